// A plugin's section as a run hands it to a hook: checked against the plugin's configSchema by the config's
// own validation (validatePluginSections), with the schema's defaults filled in. Tests of the dataset
// plugins call their hooks through it, so an option the schema refuses fails with the message a user sees.
import {
  Err,
  Ok,
  parseConfig,
  readPluginMeta,
  validatePluginSections,
  type PluginConfig,
  type Result,
} from '../../src/core/index.js';

export function validSection(plugin: unknown, section: PluginConfig): Result<PluginConfig> {
  const read = readPluginMeta(plugin);
  if (!read.ok) throw new Error(`not a plugin class: ${read.reason}`);
  const { meta } = read;
  const config = parseConfig(JSON.stringify({ plugins: [meta.name], [meta.configKey]: section }), 'config.yaml');
  const errors = validatePluginSections(config, [{ meta, entryIndex: 0 }]);
  if (errors.length > 0) return Err(new Error(errors.map((e) => e.message).join('; '))); // as ConfigErrors says it
  return Ok(config.section(meta.configKey));
}
