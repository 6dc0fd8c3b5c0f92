/**
 * The YAML config: parsing with line/column positions kept, the top-level shape, and each plugin's section
 * validated against its JSON Schema (ajv). Every error names FILE:LINE:COL and what was expected.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Document, isMap, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { DumboError, type ErrorLocation } from './errors.js';
import type { JSONSchema, PluginMeta } from './plugin.js';
import { defineSchema, type FromSchema } from './schema.js';
import { didYouMean } from './suggest.js';
import type { DumboConfig, PluginConfig } from './types.js';

export interface LoadedConfig {
  /** The path as it is shown in errors (relative to the working directory when inside it). */
  file: string;
  /** Absolute folder of the config file: relative paths in the config are relative to it. */
  dir: string;
  data: DumboConfig;
  /** The run's own keys as the file sets them, checked, with their defaults (`seed` 42 when not set). */
  run: RunConfig;
  /** Where a value (or, with `key: true`, its key) sits in the file; the nearest existing parent otherwise. */
  locate(at: readonly (string | number)[], options?: { key?: boolean }): ErrorLocation;
  /** The plugin's YAML section (`{}` when absent). */
  section(configKey: string): PluginConfig;
}

/** What `backend:` may say: `auto`, then the backends best first (engine/backend.ts explains each). */
import { BACKEND_CHOICES } from './records.js';
export { BACKEND_CHOICES, type BackendChoice } from './records.js';

/** The `webgpu:` section: how the WebGPU backend picks and uses its adapter. */
export const WEBGPU_SCHEMA = defineSchema({
  type: 'object',
  properties: {
    allow_software: {
      type: 'boolean',
      description: 'Use a software adapter (llvmpipe, SwiftShader) with backend: webgpu; slower than cpu (tests).',
    },
    adapter: { type: 'string', description: 'Pick the adapter whose name contains this (Dawn lists them).' },
    low_power: { type: 'boolean', description: 'Prefer the low-power adapter (an integrated GPU).' },
    max_binding_bytes: {
      type: 'integer',
      minimum: 1024,
      description: "Store weights larger than this in row parts (below the adapter's own binding limit).",
    },
  },
  additionalProperties: false,
});

/**
 * The top-level keys that belong to the run, not to a plugin, each declared once: parseConfig checks them
 * with this schema (in the words of runKeyError) and `LoadedConfig.run` is typed by it. Plugin sections sit
 * beside them in the file and are checked by their plugins' schemas.
 */
export const RUN_SCHEMA = defineSchema({
  type: 'object',
  properties: {
    plugins: {
      type: 'array',
      items: { type: 'string', pattern: '\\S' },
      description: 'The plugins of the run, by name or path: each brings its section (model:, dataset:, ...).',
    },
    name: { type: 'string', description: "The run's name, in its folder's name (default: the config file's)." },
    output_dir: { type: 'string', description: 'Where run folders go, relative to the config file (default: runs).' },
    seed: { type: 'integer', default: 42, description: 'The seed every plugin derives its randomness from.' },
    backend: { type: 'string', enum: BACKEND_CHOICES, description: 'Where tensors are computed (default: auto).' },
    webgpu: WEBGPU_SCHEMA,
    resume_from: { type: 'string', description: 'A checkpoint folder to resume the training from.' },
  },
  required: ['plugins'],
  additionalProperties: false,
});

export type RunConfig = FromSchema<typeof RUN_SCHEMA>;
/** Top-level keys that belong to the run, not to a plugin. */
export const RUN_KEYS = Object.keys(RUN_SCHEMA.properties) as (keyof RunConfig)[];
/** The run's seed when the config sets none. */
export const DEFAULT_SEED: number = RUN_SCHEMA.properties.seed.default;

/** `file` as messages show it: relative to `base` (the working directory) when inside it, else absolute. */
export function displayPath(file: string, base = process.cwd()): string {
  const abs = path.resolve(file);
  const rel = path.relative(base, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

export interface ParseOptions {
  /** The folder relative paths are relative to (default: the file's own folder). */
  dir?: string;
}

export async function loadConfig(file: string, options: ParseOptions = {}): Promise<LoadedConfig> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : String(error);
    throw new DumboError(`cannot read config: ${why}`, { location: { file: displayPath(file) } });
  }
  return parseConfig(source, file, options);
}

export function parseConfig(source: string, file: string, options: ParseOptions = {}): LoadedConfig {
  const shown = displayPath(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): ErrorLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: shown, line, column: col };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new DumboError(`YAML syntax error: ${firstLine(e.message)}`, { location: at(e.pos[0]) });
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new DumboError('the config must be a mapping of sections (plugins: [...], and one section per plugin)', {
      location: at(doc.contents?.range?.[0] ?? 0),
    });
  }
  const config = data as Record<string, unknown>;
  const locate = (where: readonly (string | number)[], options: { key?: boolean } = {}): ErrorLocation => {
    for (let n = where.length; n >= 0; n--) {
      const node = findNode(doc, where.slice(0, n), options.key === true && n === where.length);
      if (node?.range) return at(node.range[0]);
    }
    return { file: shown, line: 1, column: 1 };
  };

  const run = Object.fromEntries(RUN_KEYS.filter((k) => k in config).map((k) => [k, config[k]]));
  const loaded: LoadedConfig = {
    file: shown,
    dir: options.dir ? path.resolve(options.dir) : path.dirname(path.resolve(file)),
    data: config as DumboConfig,
    run: run as RunConfig,
    locate,
    section(configKey) {
      const s = config[configKey];
      return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as PluginConfig) : {};
    },
  };
  // Fills the defaults into `run` (a copy: `data` keeps what the file says).
  const validate = validatorFor(RUN_SCHEMA);
  if (!validate(run)) throw runKeyError(loaded, validate.errors![0]!);
  const infinite = nonFiniteNumber(config);
  if (infinite) {
    throw new DumboError(`${infinite.path.join('.')}: expected a finite number, got ${String(infinite.value)}`, {
      location: locate(infinite.path),
    });
  }
  return loaded;
}

/** The first number in the config that is not finite (YAML's .inf, -.inf, .nan), with where it is. */
function nonFiniteNumber(
  value: unknown,
  at: (string | number)[] = [],
): { path: (string | number)[]; value: number } | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path: at, value };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFiniteNumber(value[i], [...at, i]);
      if (found) return found;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const found = nonFiniteNumber(v, [...at, k]);
      if (found) return found;
    }
  }
  return undefined;
}

/** A run key that RUN_SCHEMA refuses, in the words each key has always had. */
function runKeyError(config: LoadedConfig, e: ErrorObject): DumboError {
  const where = pathOf(e);
  const [key, index] = where as [string, number | undefined];
  const value = config.data[key];
  const at = { location: config.locate(where) };
  if (e.keyword === 'required') {
    return new DumboError("'plugins' is missing: expected a list of plugin names, e.g. plugins: [file_logger]", {
      location: { file: config.file, line: 1, column: 1 },
    });
  }
  if (key === 'webgpu') {
    if (where.length > 1 || e.keyword !== 'type') return schemaError(config, [], e);
    return new DumboError(`'webgpu' must be a mapping (allow_software, adapter, ...), got ${typeName(value)}`, at);
  }
  if (key === 'plugins' && index === undefined) {
    return new DumboError(`'plugins' must be a list of plugin names, got ${typeName(value)}`, at);
  }
  if (key === 'plugins') {
    const item = (value as unknown[])[index!];
    return new DumboError(
      `plugins[${index}] must be a plugin name or path (a non-empty string), got ${typeName(item)}`,
      at,
    );
  }
  if (e.keyword === 'enum') {
    const choices = (e.params as { allowedValues: unknown[] }).allowedValues.join(', ');
    return new DumboError(`${key}: expected one of ${choices}, got '${String(value)}'`, at);
  }
  const expected = (e.params as { type?: string }).type === 'integer' ? 'an integer' : 'a string';
  return new DumboError(`'${key}' must be ${expected}, got ${typeName(value)}`, at);
}

/**
 * Every top-level key is the run's own (plugins, name, seed, ...) or the section of a loaded plugin: a typo
 * (`trainng:`) would otherwise be ignored and the section's defaults used without a word. Each unknown key is
 * an error at its line, with the nearest known key.
 */
export function checkTopLevelKeys(config: LoadedConfig, plugins: readonly { meta: PluginMeta }[]): DumboError[] {
  const sections = [...new Set(plugins.map((p) => p.meta.configKey))];
  const known = new Set<string>([...RUN_KEYS, ...sections]);
  return Object.keys(config.data)
    .filter((k) => !known.has(k))
    .map((k) => {
      const guess = didYouMean(k, [...known]);
      return new DumboError(
        `unknown top-level key '${k}'${guess ? ` (did you mean '${guess}'?)` : ''}: a config holds the run's keys ` +
          `(${RUN_KEYS.join(', ')}) and a section for each plugin in plugins:` +
          (sections.length > 0 ? ` (${sections.join(', ')})` : ''),
        { location: config.locate([k], { key: true }) },
      );
    });
}

function findNode(doc: Document, where: readonly (string | number)[], wantKey: boolean): YamlNode | undefined {
  if (where.length === 0) return (doc.contents as YamlNode | null) ?? undefined;
  if (wantKey) {
    const parent = doc.getIn(where.slice(0, -1), true);
    const last = where[where.length - 1];
    if (isMap(parent)) {
      for (const pair of parent.items) {
        if (isScalar(pair.key) && pair.key.value === last) return pair.key;
      }
    }
    return undefined;
  }
  const node = doc.getIn(where, true);
  return node && typeof node === 'object' && 'range' in (node as object) ? (node as YamlNode) : undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  // JSON has no Infinity or NaN (YAML's .inf, .nan): JSON.stringify would say null.
  return `${typeof v} ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`;
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, verbose: true });
const compiled = new WeakMap<JSONSchema, ValidateFunction>();

function validatorFor(schema: JSONSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/**
 * Validates each plugin's section against its `configSchema`, filling in the schema's defaults (an absent
 * section becomes `{}` plus defaults). Returns every error, each located at its line and column.
 */
export function validatePluginSections(
  config: LoadedConfig,
  plugins: readonly { meta: PluginMeta; entryIndex: number }[],
): DumboError[] {
  const errors: DumboError[] = [];
  for (const { meta, entryIndex } of plugins) {
    const schema = meta.configSchema;
    if (!schema) continue;
    let validate: ValidateFunction;
    try {
      validate = validatorFor(schema);
    } catch (error) {
      errors.push(
        new DumboError(`plugin ${meta.name} has an invalid configSchema: ${String(error)}`, {
          location: config.locate(['plugins', entryIndex]),
          plugin: meta.name,
        }),
      );
      continue;
    }
    const key = meta.configKey;
    const raw = config.data[key];
    if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
      errors.push(
        new DumboError(`'${key}' must be a mapping of settings for plugin ${meta.name}, got ${typeName(raw)}`, {
          location: config.locate([key]),
          plugin: meta.name,
        }),
      );
      continue;
    }
    const section = (raw ?? {}) as PluginConfig;
    if (validate(section)) {
      if (raw === undefined || raw === null) config.data[key] = section;
      continue;
    }
    // A section that is not in the file: point at the plugins: entry that brought the plugin in.
    const fallback = raw === undefined || raw === null ? config.locate(['plugins', entryIndex]) : undefined;
    for (const e of dedupe(validate.errors ?? []))
      errors.push(schemaError(config, [key], e, { fallback, plugin: meta.name }));
  }
  // Plugins that share a section (the model and tokenizer loaders both read `model:`) report a bad field once.
  const said = new Set<string>();
  return errors.filter((e) => {
    const id = `${e.message}|${JSON.stringify(e.location)}`;
    if (said.has(id)) return false;
    said.add(id);
    return true;
  });
}

/** `anyOf`/`oneOf` report every branch; keep the most specific error at each place. */
function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') return false;
    const id = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Where in the checked value an Ajv error is: `/a/0/b` -> ['a', 0, 'b']. */
function pathOf(e: ErrorObject): (string | number)[] {
  return e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * An Ajv error about the value at `prefix` in the config (a plugin's section: [configKey]), said as
 * `dotted.path: what was expected`, located at that value unless `fallback` says where instead.
 */
function schemaError(
  config: LoadedConfig,
  prefix: (string | number)[],
  e: ErrorObject,
  { fallback, plugin }: { fallback?: ErrorLocation; plugin?: string } = {},
): DumboError {
  const where = [...prefix, ...pathOf(e)];
  const dotted = where
    .map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`))
    .join('')
    .slice(1);
  const loc = (at: (string | number)[], k = false) => fallback ?? config.locate(at, { key: k });
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return new DumboError(`${dotted}: missing required field '${String(p.missingProperty)}'`, {
        location: loc(where),
        plugin,
      });
    case 'additionalProperties': {
      const props = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const expected = props.length ? ` (expected one of: ${props.join(', ')})` : '';
      return new DumboError(`${dotted}: unknown field '${String(p.additionalProperty)}'${expected}`, {
        location: loc([...where, String(p.additionalProperty)], true),
        plugin,
      });
    }
    case 'type': {
      const value = where.reduce<unknown>(
        (v, s) => (v as Record<string | number, unknown> | undefined)?.[s],
        config.data,
      );
      const expected = Array.isArray(p.type) ? (p.type as unknown[]).join(' or ') : String(p.type);
      return new DumboError(`${dotted}: expected ${expected}, got ${typeName(value)}`, {
        location: loc(where),
        plugin,
      });
    }
    case 'enum':
      return new DumboError(
        `${dotted}: expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
        { location: loc(where), plugin },
      );
    default: {
      // A schema may say in words what it expects (`errorMessage`, as ajv-errors spells it): a refused field.
      const own = (e.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage;
      const said = typeof own === 'string' ? own : (e.message ?? 'is invalid');
      return new DumboError(`${dotted}: ${said}`, { location: loc(where), plugin });
    }
  }
}
