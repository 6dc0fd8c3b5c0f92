/**
 * The config being edited: its file, its text, whether it is saved, and what `dumbo validate` says about
 * it (problems at line and column), checked as the user types, 300 ms after the last keystroke. Also the
 * example configs (opened as untitled copies: Save As keeps one) and the models `model.base_model` can point
 * at. Only `save` writes a file; Run sends the text (stores/runs.ts).
 */

import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ConfigProblem, Example, ModelChoice, ValidationResult } from '../../../shared/api.js';
import { useClient } from '../client.js';
import { messageOf } from '../lib/format.js';
import { chooseModel, modelOverrides } from '../lib/model-choice.js';
import { problemLabel } from '../lib/problems.js';
import { useSettingsStore } from './settings.js';

/** Quiet time after the last edit before the text is validated. */
export const VALIDATE_DELAY_MS = 300;
/** The file name validation and estimates assume for a config that was never saved. */
export const UNTITLED = 'untitled.yaml';

export const useConfigStore = defineStore('config', () => {
  /** The file Save writes ('' for an untitled config). */
  const path = ref('');
  /** The file an untitled copy was made from (an example): its relative paths are relative to its folder. */
  const copiedFrom = ref('');
  const text = ref('');
  const savedText = ref('');
  const validation = shallowRef<ValidationResult>();
  /** The text `validation` is about. */
  const checkedText = ref<string>();
  const validating = ref(false);
  const error = ref<string>();
  /** A file the user asked to open while the editor had unsaved changes: waits for "discard" or "cancel". */
  const pendingOpen = ref<string>();
  /** The same for an untitled copy (an example, a past run's config). */
  const pendingCopy = shallowRef<{ text: string; from: string }>();
  const examples = ref<Example[]>([]);
  const models = ref<ModelChoice[]>([]);
  /** A trained model picked while `model.config:` has overrides: waits for "drop them" or "cancel". */
  const pendingModel = shallowRef<{ choice: ModelChoice; overrides: string[] }>();

  const dirty = computed(() => text.value !== savedText.value);
  const problems = computed<ConfigProblem[]>(() => validation.value?.problems ?? []);
  const valid = computed(() => validation.value?.valid ?? false);
  const recent = computed(() => useSettingsStore().recentConfigs);
  /**
   * The file the text stands for, for validation, estimates and runs (its name, its folder for relative
   * paths): its own file, else the example it was copied from, else untitled.yaml in the working folder.
   */
  const filePath = computed(() => path.value || copiedFrom.value || UNTITLED);
  /** Why Run cannot start now (the text is empty, or has errors once checked); undefined when it can. */
  const runBlocker = computed<string | undefined>(() => {
    if (text.value.trim() === '') return 'The config is empty: open a config or an example.';
    if (checkedText.value !== text.value || validation.value === undefined) return undefined; // checked on Run
    const first = problems.value[0];
    if (valid.value || !first) return undefined;
    const more = problems.value.length > 1 ? ` (and ${problems.value.length - 1} more)` : '';
    return `Fix the config first: ${problemLabel(first)}${more}`;
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  let validationSeq = 0;

  /** Checks the current text now; an answer that arrives after a newer request's is dropped. */
  async function validate(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const seq = ++validationSeq;
    const checking = text.value;
    validating.value = true;
    try {
      const result = await useClient().validateConfig(checking, filePath.value);
      if (seq === validationSeq) [validation.value, checkedText.value] = [result, checking];
    } catch (e) {
      if (seq === validationSeq) {
        validation.value = { valid: false, problems: [{ message: messageOf(e) }], plugins: [] };
        checkedText.value = checking;
      }
    } finally {
      if (seq === validationSeq) validating.value = false;
    }
  }

  /** The editor's text changed: validate once the typing pauses. */
  function edit(next: string): void {
    if (next === text.value) return;
    text.value = next;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void validate(), VALIDATE_DELAY_MS);
  }

  /** Whether the current text has been checked, and is valid (checks it now when it has not been). */
  async function validNow(): Promise<boolean> {
    if (checkedText.value !== text.value || validating.value) await validate();
    return valid.value;
  }

  /** Puts a config in the editor: `file` is what Save writes ('' untitled), `from` the file it was copied from. */
  function show(next: string, file: string, from = ''): void {
    path.value = file;
    copiedFrom.value = from;
    text.value = next;
    savedText.value = next;
    error.value = undefined;
    pendingModel.value = undefined;
  }

  async function open(file: string, options: { discardChanges?: boolean } = {}): Promise<void> {
    if (dirty.value && !options.discardChanges) {
      pendingOpen.value = file;
      pendingCopy.value = undefined;
      return;
    }
    pendingOpen.value = undefined;
    pendingCopy.value = undefined;
    try {
      const config = await useClient().openConfig(file);
      show(config.text, config.path);
    } catch (e) {
      error.value = `Cannot open ${file}: ${messageOf(e)}`;
      return;
    }
    void useSettingsStore().load();
    await validate();
  }

  /**
   * Opens text as an untitled config (Save As keeps it): an example's copy — its shipped file is never the
   * one Save writes — or a past run's config. `from`: the file its relative paths are relative to.
   */
  async function openUntitled(next: string, from = '', options: { discardChanges?: boolean } = {}): Promise<void> {
    if (dirty.value && !options.discardChanges) {
      pendingCopy.value = { text: next, from };
      pendingOpen.value = undefined;
      return;
    }
    pendingOpen.value = undefined;
    pendingCopy.value = undefined;
    show(next, '', from);
    await validate();
  }

  function openExample(example: Example): Promise<void> {
    return openUntitled(example.text, example.path);
  }

  /** The example shipped at `file` (the desktop menu's Examples), as an untitled copy. */
  async function openExampleFile(file: string): Promise<void> {
    if (!examples.value.some((e) => e.path === file)) await loadExamples();
    const example = examples.value.find((e) => e.path === file);
    if (example) await openExample(example);
    else error.value = `Cannot open the example ${file}: it is not among the examples`;
  }

  /** The user said "discard": opens what waited for it. */
  async function discardAndOpen(): Promise<void> {
    const copy = pendingCopy.value;
    if (copy) await openUntitled(copy.text, copy.from, { discardChanges: true });
    else if (pendingOpen.value) await open(pendingOpen.value, { discardChanges: true });
  }

  function cancelOpen(): void {
    pendingOpen.value = undefined;
    pendingCopy.value = undefined;
  }

  /** Saves to the config's file, or to `asPath` (which becomes the config's file). */
  async function save(asPath?: string): Promise<boolean> {
    const file = asPath?.trim() || path.value;
    if (!file) {
      error.value = 'Choose a file to save this config to.';
      return false;
    }
    const saving = text.value;
    try {
      await useClient().saveConfig(file, saving);
    } catch (e) {
      error.value = `Cannot save ${file}: ${messageOf(e)}`;
      return false;
    }
    error.value = undefined;
    savedText.value = saving;
    if (file !== path.value) {
      const relocated = file !== filePath.value;
      path.value = file;
      copiedFrom.value = '';
      if (relocated) await validate(); // relative paths are now relative to the new file's folder
    }
    return true;
  }

  async function loadExamples(): Promise<void> {
    try {
      examples.value = await useClient().listExamples();
    } catch (e) {
      error.value = `Cannot list the examples: ${messageOf(e)}`;
    }
  }

  async function loadModels(): Promise<void> {
    try {
      models.value = await useClient().listModels();
    } catch (e) {
      error.value = `Cannot list the models: ${messageOf(e)}`;
    }
  }

  /**
   * Points `model.base_model` at a model folder, leaving the rest of the text as it is. A trained model (one
   * with weights) also sets `init: pretrained` and drops `model.config:`'s overrides, which would not apply
   * to it — after asking, when there are any (`pendingModel`; `force` is the user's yes).
   */
  function chooseBaseModel(choice: ModelChoice, options: { force?: boolean } = {}): void {
    const overrides = choice.weights ? modelOverrides(text.value) : [];
    if (overrides.length > 0 && !options.force) {
      pendingModel.value = { choice, overrides };
      return;
    }
    pendingModel.value = undefined;
    const result = chooseModel(text.value, choice.path, choice.weights);
    if (result.ok) {
      error.value = undefined;
      edit(result.text);
    } else error.value = `Cannot set model.base_model: ${result.error}`;
  }

  function cancelModel(): void {
    pendingModel.value = undefined;
  }

  function dismissError(): void {
    error.value = undefined;
  }

  return {
    path,
    copiedFrom,
    filePath,
    text,
    savedText,
    validation,
    checkedText,
    validating,
    error,
    pendingOpen,
    pendingCopy,
    examples,
    models,
    pendingModel,
    dirty,
    problems,
    valid,
    recent,
    runBlocker,
    validate,
    validNow,
    edit,
    open,
    openUntitled,
    openExample,
    openExampleFile,
    discardAndOpen,
    cancelOpen,
    save,
    loadExamples,
    loadModels,
    chooseBaseModel,
    cancelModel,
    dismissError,
  };
});
