/**
 * The plugin manager: every plugin the app can load (built-in, the user's, the config's own paths), which
 * of them this config uses, installing a dropped folder after the user has seen what is in it, removing
 * one, and switching plugins on and off — which edits the `plugins:` list of the config being edited.
 */

import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import { parseDocument } from 'yaml';
import type { AppEvent, PluginCard, PluginFolderPreview } from '../../../shared/api.js';
import type { FieldDoc } from '../../../shared/field-docs.js';
import { useClient } from '../client.js';
import { messageOf } from '../lib/format.js';
import { listedPlugins, setPluginListed } from '../lib/yaml-edit.js';
import { configSchema } from '../lib/yaml-schema.js';
import { useConfigStore } from './config.js';

/** The name a config lists a plugin by, as the card says it (its folder, or what the config wrote). */
export function listName(card: PluginCard): string {
  return card.name;
}

/** Whether a name written in `plugins:` loads this card (folder, plugin name, config key or a path to it). */
export function namesCard(name: string, card: PluginCard): boolean {
  const n = name.trim();
  if (n === card.folder || n === card.name || n === card.pluginName || (n === card.configKey && !card.error))
    return true;
  if (card.source === 'path')
    return (
      n
        .replace(/\/+$/, '')
        .split('/')
        .pop()
        ?.replace(/\.[mc]?[jt]s$/, '') === card.folder
    );
  return false;
}

export const usePluginsStore = defineStore('plugins', () => {
  const config = useConfigStore();
  const cards = shallowRef<PluginCard[]>([]);
  /** Ids of the cards the config loads, as the catalog resolved them. */
  const used = shallowRef<string[]>([]);
  /** The run's own top-level keys (name, seed, backend, ...) as field docs, for the editor. */
  const runFields = shallowRef<FieldDoc[]>([]);
  /** What the editor's completion, hover, hints and form know of the config's sections, from the schemas. */
  const schema = computed(() => configSchema(cards.value, used.value, runFields.value));
  const loading = ref(false);
  const error = ref<string>();
  /** The dropped folder waiting for the user's trust: what is in it. */
  const trust = shallowRef<PluginFolderPreview>();
  const installing = ref(false);

  // While the YAML does not parse (a syntax error being typed), the plugins list stays the last one that did:
  // the cards do not all flip to "Add to this config" because of an error elsewhere in the text.
  let lastListed: string[] = [];
  const listed = computed(() => {
    if (!parseDocument(config.text).errors.length) lastListed = listedPlugins(config.text);
    return lastListed;
  });
  const isListed = (card: PluginCard) => listed.value.some((name) => namesCard(name, card));
  const isUsed = (card: PluginCard) => used.value.includes(card.id);

  let loadedFor: string | undefined;
  async function load(): Promise<void> {
    loading.value = true;
    const text = config.text;
    try {
      const catalog = await useClient().listPlugins(text === '' ? undefined : text);
      cards.value = catalog.cards;
      used.value = catalog.used;
      runFields.value = catalog.runFields;
      loadedFor = listed.value.join('\n');
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot list the plugins: ${messageOf(e)}`;
    } finally {
      loading.value = false;
    }
  }

  // "Used by this config" follows the plugins list once the editor's text has been validated.
  watch(
    () => config.validation,
    () => {
      if (listed.value.join('\n') !== loadedFor) void load();
    },
  );

  /** Adds the plugin to the config's `plugins:` list, or takes it out. */
  function setEnabled(card: PluginCard, enabled: boolean): void {
    const aliases = [card.folder, card.name];
    if (!card.error && card.configKey) aliases.push(card.configKey);
    const names = enabled ? [] : listed.value.filter((n) => namesCard(n, card));
    const result = setPluginListed(config.text, listName(card), enabled, [...aliases, ...names]);
    if (!result.ok) {
      error.value = `Cannot change the plugins list: ${result.error}`;
      return;
    }
    error.value = undefined;
    config.edit(result.text);
  }

  /** Step 1 of an install: shows what the folder holds; none of its code runs. */
  async function inspectFolder(folder: string): Promise<void> {
    const path = folder.trim();
    if (!path) {
      error.value = 'Give the path of a plugin folder.';
      return;
    }
    try {
      trust.value = await useClient().previewPluginFolder(path);
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot read ${path}: ${messageOf(e)}`;
    }
  }

  /** Step 2: the user trusts the folder; it is copied into the plugin folder and loaded. */
  async function installTrusted(): Promise<void> {
    const preview = trust.value;
    if (!preview) return;
    installing.value = true;
    try {
      await useClient().installPlugin(preview.folder);
      trust.value = undefined;
      error.value = undefined;
      await load();
    } catch (e) {
      error.value = `Cannot install ${preview.folder}: ${messageOf(e)}`;
    } finally {
      installing.value = false;
    }
  }

  function cancelInstall(): void {
    trust.value = undefined;
  }

  async function remove(card: PluginCard): Promise<void> {
    try {
      await useClient().removePlugin(card.folder);
      error.value = undefined;
      await load();
    } catch (e) {
      error.value = `Cannot remove ${card.folder}: ${messageOf(e)}`;
    }
  }

  function receive(event: AppEvent): void {
    if (event.type === 'plugins-changed') void load();
  }

  function dismissError(): void {
    error.value = undefined;
  }

  return {
    cards,
    used,
    runFields,
    schema,
    loading,
    error,
    trust,
    installing,
    listed,
    isListed,
    isUsed,
    load,
    setEnabled,
    inspectFolder,
    installTrusted,
    cancelInstall,
    remove,
    receive,
    dismissError,
  };
});
