/**
 * Resolution, before any hook runs: every `requires` is provided by some loaded plugin, no `conflicts` is
 * provided by another, and no exclusive capability (trainer) is claimed twice. Each failure names the
 * plugins and the capability; all failures are reported at once.
 */

import type { LoadedConfig } from './config.js';
import { DumboError } from './errors.js';
import { EXCLUSIVE_CAPABILITIES } from './hooks.js';
import type { PluginMeta } from './plugin.js';

export interface Resolvable {
  meta: PluginMeta;
  entryIndex: number;
}

export function resolvePlugins(plugins: readonly Resolvable[], config?: LoadedConfig): DumboError[] {
  const errors: DumboError[] = [];
  const at = (p: Resolvable) => (config && p.entryIndex >= 0 ? config.locate(['plugins', p.entryIndex]) : {});
  const providers = (cap: string, except?: Resolvable) =>
    plugins.filter((p) => p !== except && p.meta.provides.includes(cap));

  for (const p of plugins) {
    for (const cap of p.meta.requires) {
      if (providers(cap).length === 0) {
        errors.push(
          new DumboError(`${p.meta.name} requires '${cap}', which no loaded plugin provides`, {
            location: at(p),
            plugin: p.meta.name,
          }),
        );
      }
    }
    for (const cap of p.meta.conflicts) {
      const clash = providers(cap, p);
      if (clash.length > 0) {
        errors.push(
          new DumboError(
            `${p.meta.name} conflicts with '${cap}', which ${clash.map((c) => c.meta.name).join(' and ')} ` +
              `${clash.length > 1 ? 'provide' : 'provides'}`,
            { location: at(p), plugin: p.meta.name },
          ),
        );
      }
    }
  }
  for (const cap of EXCLUSIVE_CAPABILITIES) {
    const claimants = providers(cap);
    if (claimants.length > 1) {
      errors.push(
        new DumboError(
          `only one plugin may provide '${cap}', but ${claimants.map((c) => c.meta.name).join(' and ')} do`,
          { location: at(claimants[1]!), plugin: claimants[1]!.meta.name },
        ),
      );
    }
  }
  return errors;
}
