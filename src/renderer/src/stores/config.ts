/**
 * The config being edited: its file, its text, whether it is saved, and what `dumbo validate` says about
 * it (problems at line and column), checked as the user types, 300 ms after the last keystroke. Also the
 * example configs and the models `model.base_model` can point at.
 */

import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ConfigProblem, Example, ModelChoice, ValidationResult } from '../../../shared/api.js';
import { useClient } from '../client.js';
import { messageOf } from '../lib/format.js';
import { setScalarAt } from '../lib/yaml-edit.js';
import { useSettingsStore } from './settings.js';

/** Quiet time after the last edit before the text is validated. */
export const VALIDATE_DELAY_MS = 300;
/** The file name validation and estimates assume for a config that was never saved. */
export const UNTITLED = 'untitled.yaml';

export const useConfigStore = defineStore('config', () => {
  const path = ref('');
  const text = ref('');
  const savedText = ref('');
  const validation = shallowRef<ValidationResult>();
  const validating = ref(false);
  const error = ref<string>();
  /** A file the user asked to open while the editor had unsaved changes: waits for "discard" or "cancel". */
  const pendingOpen = ref<string>();
  const examples = ref<Example[]>([]);
  const models = ref<ModelChoice[]>([]);

  const dirty = computed(() => text.value !== savedText.value);
  const problems = computed<ConfigProblem[]>(() => validation.value?.problems ?? []);
  const valid = computed(() => validation.value?.valid ?? false);
  const recent = computed(() => useSettingsStore().recentConfigs);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let validationSeq = 0;

  /** Checks the current text now; an answer that arrives after a newer request's is dropped. */
  async function validate(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const seq = ++validationSeq;
    validating.value = true;
    try {
      const result = await useClient().validateConfig(text.value, path.value || UNTITLED);
      if (seq === validationSeq) validation.value = result;
    } catch (e) {
      if (seq === validationSeq)
        validation.value = { valid: false, problems: [{ message: messageOf(e) }], plugins: [] };
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

  async function open(file: string, options: { discardChanges?: boolean } = {}): Promise<void> {
    if (dirty.value && !options.discardChanges) {
      pendingOpen.value = file;
      return;
    }
    pendingOpen.value = undefined;
    try {
      const config = await useClient().openConfig(file);
      path.value = config.path;
      text.value = config.text;
      savedText.value = config.text;
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot open ${file}: ${messageOf(e)}`;
      return;
    }
    void useSettingsStore().load();
    await validate();
  }

  function cancelOpen(): void {
    pendingOpen.value = undefined;
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
      path.value = file;
      await validate();
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

  /** Points `model.base_model` at a model folder, leaving the rest of the text as it is. */
  function chooseBaseModel(modelPath: string): void {
    const result = setScalarAt(text.value, ['model', 'base_model'], modelPath);
    if (result.ok) {
      error.value = undefined;
      edit(result.text);
    } else error.value = `Cannot set model.base_model: ${result.error}`;
  }

  function dismissError(): void {
    error.value = undefined;
  }

  return {
    path,
    text,
    savedText,
    validation,
    validating,
    error,
    pendingOpen,
    examples,
    models,
    dirty,
    problems,
    valid,
    recent,
    validate,
    edit,
    open,
    cancelOpen,
    save,
    loadExamples,
    loadModels,
    chooseBaseModel,
    dismissError,
  };
});
