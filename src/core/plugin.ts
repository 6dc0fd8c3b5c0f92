/**
 * Plugin base classes and the reading of a plugin's static metadata.
 *
 * Every hook, and so every kind method, receives the plugin context (context.ts) as its last argument.
 *
 * Metadata is static (`configKey`, `provides`, `requires`, `conflicts`, `description`, `version`,
 * `configSchema`), never `static name`. The kind base classes wire their methods to hooks by default; a
 * subclass's own `hooks()` replaces that map. Shapes are checked by duck typing, never `instanceof`: a plugin
 * may extend another copy of the SDK.
 */

import { standaloneContext, type PluginContext } from './context.js';
import type { HookArgs, HookName, HookReturn, PluginHooks } from './hooks.js';
import type { MetricEvent, MetricsCollector } from './metrics.js';
import type { Dataset, Model, PluginConfig, Tokenizer } from './types.js';

/** A JSON Schema object (draft 2020-12 or 07), used to validate a plugin's YAML section. */
export type JSONSchema = Record<string, unknown>;

export abstract class BasePlugin {
  /** The YAML section this plugin reads. Left out: the class name in snake_case. */
  static configKey?: string;
  /** Capabilities this plugin offers. */
  static provides: string[] = [];
  /** Capabilities another loaded plugin must provide. */
  static requires: string[] = [];
  /** Capabilities no other loaded plugin may provide. */
  static conflicts: string[] = [];
  static description?: string;
  static version?: string;
  /** JSON Schema of the plugin's YAML section: validates it and builds its form in the config editor. */
  static configSchema?: JSONSchema;

  /** Hook name -> function. The kind classes below fill this from their methods. */
  hooks(): PluginHooks {
    return {};
  }

  /** The context a kind method gets: the bus's, or when a hook is called by hand without one, a standalone one. */
  protected contextOf(ctx: PluginContext | undefined): PluginContext {
    return ctx ?? standaloneContext(snakeCase(this.constructor.name));
  }
}

export abstract class ModelLoaderPlugin extends BasePlugin {
  static provides = ['model_loader'];
  abstract loadModel(config: PluginConfig, context: PluginContext): HookReturn<Model>;
  hooks(): PluginHooks {
    return { model_loader: (config, ctx) => this.loadModel(config, this.contextOf(ctx)) };
  }
}

export abstract class TokenizerLoaderPlugin extends BasePlugin {
  static provides = ['tokenizer_loader'];
  abstract loadTokenizer(config: PluginConfig, model: Model | undefined, context: PluginContext): HookReturn<Tokenizer>;
  hooks(): PluginHooks {
    return { tokenizer_loader: (config, model, ctx) => this.loadTokenizer(config, model, this.contextOf(ctx)) };
  }
}

export abstract class ModelPatcherPlugin extends BasePlugin {
  static provides = ['model_patcher'];
  abstract patchModel(model: Model, config: PluginConfig, context: PluginContext): HookReturn<Model>;
  hooks(): PluginHooks {
    return { model_patcher: (model, config, ctx) => this.patchModel(model, config, this.contextOf(ctx)) };
  }
}

/** The arguments of hook `H` as a kind class's method takes them: the hook's own, then the context. */
type MethodArgs<H extends HookName> = [...HookArgs<H>, PluginContext];

export abstract class DatasetLoaderPlugin extends BasePlugin {
  static provides = ['dataset_loader'];
  /** (config, tokenizer, context) */
  abstract loadDataset(...args: MethodArgs<'dataset_loader'>): HookReturn<Dataset>;
  hooks(): PluginHooks {
    return { dataset_loader: (config, tokenizer, ctx) => this.loadDataset(config, tokenizer, this.contextOf(ctx)) };
  }
}

export abstract class DatasetFormatterPlugin extends BasePlugin {
  static provides = ['dataset_formatter'];
  /** (dataset, config, tokenizer, context) */
  abstract formatDataset(...args: MethodArgs<'dataset_formatter'>): HookReturn<Dataset>;
  hooks(): PluginHooks {
    return {
      dataset_formatter: (dataset, config, tokenizer, ctx) =>
        this.formatDataset(dataset, config, tokenizer, this.contextOf(ctx)),
    };
  }
}

/** A logger: each of its methods that exists is wired to its hook. */
export abstract class LoggingPlugin extends BasePlugin {
  static provides = ['logging'];
  initialize?(config: PluginConfig, context: PluginContext): HookReturn<void>;
  logMetrics?(metrics: MetricEvent[], step: number, context: PluginContext): HookReturn<void>;
  getMetricsCollector?(context: PluginContext): HookReturn<MetricsCollector>;
  finish?(context: PluginContext): HookReturn<void>;
  hooks(): PluginHooks {
    const h: PluginHooks = {};
    if (this.initialize) h.log_init = (config, ctx) => this.initialize!(config, this.contextOf(ctx));
    if (this.logMetrics) h.log_metrics = (metrics, step, ctx) => this.logMetrics!(metrics, step, this.contextOf(ctx));
    if (this.getMetricsCollector) h.metrics_collector = (ctx) => this.getMetricsCollector!(this.contextOf(ctx));
    if (this.finish) h.finish = (ctx) => this.finish!(this.contextOf(ctx));
    return h;
  }
}

/** What a plugin class looks like from the outside, whichever SDK copy it extends. */
export interface PluginClass {
  new (): { hooks(): PluginHooks };
  readonly name: string;
  configKey?: string;
  provides?: unknown;
  requires?: unknown;
  conflicts?: unknown;
  description?: unknown;
  version?: unknown;
  configSchema?: unknown;
}

/** A plugin's metadata, checked. */
export interface PluginMeta {
  /** snake_case of the class name: how messages and the trace name the plugin. */
  name: string;
  /** The YAML section it reads. */
  configKey: string;
  className: string;
  provides: string[];
  requires: string[];
  conflicts: string[];
  description?: string;
  version?: string;
  configSchema?: JSONSchema;
}

/** `FileLoggingPlugin` -> `file_logging_plugin`, `HTTPServer` -> `http_server`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

/**
 * Checks that `value` is a plugin class and reads its metadata. Returns the reason it is not one, phrased to
 * follow "X is not a plugin class: ".
 */
export function readPluginMeta(value: unknown): { ok: true; meta: PluginMeta } | { ok: false; reason: string } {
  if (typeof value !== 'function') {
    return { ok: false, reason: `it is ${describe(value)}, not a class` };
  }
  const cls = value as PluginClass;
  const proto = (cls as unknown as { prototype?: { hooks?: unknown } }).prototype;
  if (!proto || typeof proto.hooks !== 'function') {
    return { ok: false, reason: 'it has no hooks() method' };
  }
  const className = cls.name || 'anonymous';
  const arrays: Record<'provides' | 'requires' | 'conflicts', string[]> = { provides: [], requires: [], conflicts: [] };
  for (const field of ['provides', 'requires', 'conflicts'] as const) {
    const v = cls[field];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0)) {
      return { ok: false, reason: `static ${field} must be an array of capability names (strings)` };
    }
    arrays[field] = [...(v as string[])];
  }
  if (cls.configKey !== undefined && (typeof cls.configKey !== 'string' || !/^[A-Za-z_][\w-]*$/.test(cls.configKey))) {
    return { ok: false, reason: 'static configKey must be a YAML key (letters, digits, _ and -)' };
  }
  for (const field of ['description', 'version'] as const) {
    if (cls[field] !== undefined && typeof cls[field] !== 'string') {
      return { ok: false, reason: `static ${field} must be a string` };
    }
  }
  const schema = cls.configSchema;
  if (schema !== undefined && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
    return { ok: false, reason: 'static configSchema must be a JSON Schema object' };
  }
  const name = snakeCase(className);
  return {
    ok: true,
    meta: {
      name,
      configKey: cls.configKey ?? name,
      className,
      ...arrays,
      description: cls.description as string | undefined,
      version: cls.version as string | undefined,
      configSchema: schema as JSONSchema | undefined,
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'undefined') return 'undefined';
  return `a ${typeof value}`;
}
