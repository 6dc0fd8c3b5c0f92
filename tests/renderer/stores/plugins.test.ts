// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { usePluginsStore } from '../../../src/renderer/src/stores/plugins.js';
import type { PluginCard } from '../../../src/shared/api.js';
import { createFakeApi, type FakeApi } from '../fake-api.js';

const TEXT = `# Fine-tune
plugins:
  - transformers # model + tokenizer
  - polars # data
  # logging comes last
  - file_logger

training:
  max_steps: 10 # short
`;

function card(folder: string, overrides: Partial<PluginCard> = {}): PluginCard {
  return {
    id: `builtin:${folder}:X`,
    folder,
    name: folder,
    className: 'X',
    configKey: folder,
    source: 'builtin',
    location: `/app/plugins/${folder}`,
    provides: [],
    requires: [],
    conflicts: [],
    ...overrides,
  };
}

let api: FakeApi;
beforeEach(() => {
  api = createFakeApi({
    openConfig: async (path) => ({ path, text: TEXT }),
    listPlugins: async () => ({
      cards: [card('transformers'), card('polars'), card('console_logger'), card('file_logger')],
      used: ['builtin:transformers:X', 'builtin:polars:X', 'builtin:file_logger:X'],
      runFields: [],
    }),
  });
  provideClient(api);
  setActivePinia(createPinia());
});

describe('the plugins store', () => {
  it('lists the plugins and which of them the config uses', async () => {
    const config = useConfigStore();
    await config.open('/c/run.yaml');
    const plugins = usePluginsStore();
    await plugins.load();
    expect(api.listPlugins).toHaveBeenCalledWith(TEXT);
    expect(plugins.cards.map((c) => c.name)).toEqual(['transformers', 'polars', 'console_logger', 'file_logger']);
    expect(plugins.cards.filter((c) => plugins.isUsed(c)).map((c) => c.name)).toEqual([
      'transformers',
      'polars',
      'file_logger',
    ]);
  });

  it('a YAML syntax error elsewhere keeps the cards as they were: none flips to "Add to this config"', async () => {
    const config = useConfigStore();
    await config.open('/c/run.yaml');
    const plugins = usePluginsStore();
    await plugins.load();
    const listed = () => plugins.cards.filter((c) => plugins.isListed(c)).map((c) => c.name);
    expect(listed()).toEqual(['transformers', 'polars', 'file_logger']);
    config.edit(TEXT.replace('max_steps: 10', 'max_steps: [10'));
    expect(listed()).toEqual(['transformers', 'polars', 'file_logger']);
    // Once it parses again the list is read afresh.
    config.edit(TEXT.replace('  - polars # data\n', ''));
    expect(listed()).toEqual(['transformers', 'file_logger']);
  });

  it('switching a plugin on appends it to the plugins list, keeping every comment', async () => {
    const config = useConfigStore();
    await config.open('/c/run.yaml');
    const plugins = usePluginsStore();
    await plugins.load();
    const logger = plugins.cards.find((c) => c.name === 'console_logger')!;
    expect(plugins.isListed(logger)).toBe(false);

    plugins.setEnabled(logger, true);

    expect(config.text).toBe(TEXT.replace('  - file_logger\n', '  - file_logger\n  - console_logger\n'));
    expect(plugins.isListed(logger)).toBe(true);
    expect(config.dirty).toBe(true);
  });

  it('switching a plugin off removes its line only', async () => {
    const config = useConfigStore();
    await config.open('/c/run.yaml');
    const plugins = usePluginsStore();
    await plugins.load();

    plugins.setEnabled(
      plugins.cards.find((c) => c.name === 'polars')!,
      false,
    );

    expect(config.text).toBe(TEXT.replace('  - polars # data\n', ''));
    expect(config.text).toContain('# logging comes last');
    expect(config.text).toContain('max_steps: 10 # short');
  });

  it('says why it cannot switch plugins while the YAML is broken', async () => {
    const config = useConfigStore();
    config.edit('plugins: [a,\n');
    const plugins = usePluginsStore();
    plugins.setEnabled(card('polars'), true);
    expect(config.text).toBe('plugins: [a,\n');
    expect(plugins.error).toMatch(/Cannot change the plugins list: the YAML has errors/);
  });

  it('installs a folder only after showing what is in it', async () => {
    api.previewPluginFolder.mockResolvedValueOnce({
      folder: '/tmp/my-plugin',
      files: [{ path: 'index.ts', bytes: 120 }],
      packageJson: { name: 'my-plugin' },
      links: [],
    });
    const plugins = usePluginsStore();

    await plugins.inspectFolder(' /tmp/my-plugin ');
    expect(api.previewPluginFolder).toHaveBeenCalledWith('/tmp/my-plugin');
    expect(plugins.trust?.files).toEqual([{ path: 'index.ts', bytes: 120 }]);
    expect(api.installPlugin).not.toHaveBeenCalled();

    await plugins.installTrusted();
    expect(api.installPlugin).toHaveBeenCalledWith('/tmp/my-plugin');
    expect(plugins.trust).toBeUndefined();
    expect(api.listPlugins).toHaveBeenCalled();
  });

  it('keeps a failed install as an error, with the trust dialog still open', async () => {
    api.installPlugin.mockRejectedValueOnce(new Error('index.ts: no AVAILABLE_PLUGINS'));
    const plugins = usePluginsStore();
    await plugins.inspectFolder('/tmp/bad');
    await plugins.installTrusted();
    expect(plugins.error).toBe('Cannot install /tmp/bad: index.ts: no AVAILABLE_PLUGINS');
    expect(plugins.trust).toBeDefined();
  });

  it('reloads when the app says the plugins changed', async () => {
    const plugins = usePluginsStore();
    plugins.receive({ type: 'plugins-changed' });
    await Promise.resolve();
    expect(api.listPlugins).toHaveBeenCalledOnce();
  });
});

describe('namesCard', () => {
  it('recognizes a plugin by its folder, its own name, its config key or a path to it', async () => {
    const { namesCard } = await import('../../../src/renderer/src/stores/plugins.js');
    const loader = card('transformers', { pluginName: 'transformers_model_loader', configKey: 'model' });
    for (const name of ['transformers', 'transformers_model_loader', 'model']) {
      expect(namesCard(name, loader), name).toBe(true);
    }
    expect(namesCard('transformers_tokenizer_loader', loader)).toBe(false);
    const byPath = card('probe', { source: 'path', name: './ext/probe' });
    expect(namesCard('./ext/probe/', byPath)).toBe(true);
  });
});
