/** The app's settings as the user sees them: recent configs, plugin folder, default backend. */

import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { Settings } from '../../../shared/api.js';
import { useClient } from '../client.js';
import { messageOf } from '../lib/format.js';

export const useSettingsStore = defineStore('settings', () => {
  const settings = ref<Settings>();
  const error = ref<string>();
  const saving = ref(false);

  const recentConfigs = computed(() => settings.value?.recentConfigs ?? []);
  const defaultBackend = computed(() => settings.value?.defaultBackend ?? 'auto');
  const pluginFolder = computed(() => settings.value?.pluginFolder ?? '');

  async function load(): Promise<void> {
    try {
      settings.value = await useClient().getSettings();
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot read the settings: ${messageOf(e)}`;
    }
  }

  async function update(patch: Partial<Settings>): Promise<void> {
    saving.value = true;
    try {
      settings.value = await useClient().updateSettings(patch);
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot save the settings: ${messageOf(e)}`;
    } finally {
      saving.value = false;
    }
  }

  return { settings, error, saving, recentConfigs, defaultBackend, pluginFolder, load, update };
});
