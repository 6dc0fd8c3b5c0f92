// FromSchema: the type a JSON Schema describes, checked by the compiler (expectTypeOf, run by tsc), and the
// run-time promise behind it: the config's own validation (Ajv with useDefaults) fills in every field the
// type says is present.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BasePlugin,
  defineSchema,
  parseConfig,
  readPluginMeta,
  validatePluginSections,
  type FromSchema,
  type PluginMeta,
} from '../../src/core/index.js';

/** The keys of T that are not optional. */
type PresentKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

const options = defineSchema({
  type: 'object',
  properties: {
    path: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    names: { type: ['string', 'array'], items: { type: 'string' } },
    format: { type: 'string', enum: ['auto', 'csv', 'json'], default: 'auto' },
    kind: { const: 'dataset' },
    mode: { oneOf: [{ type: 'integer' }, { type: 'boolean' }] },
    rate: { type: 'number', minimum: 0, default: 0.5 },
    limit: { type: 'integer', minimum: 1 },
    shuffle: { type: 'boolean', default: true },
    tags: { type: 'array', items: { type: 'string' }, default: [] },
    maybe: { type: ['string', 'null'] },
    nested: {
      type: 'object',
      properties: { depth: { type: 'integer', default: 3 }, label: { type: 'string' } },
      additionalProperties: false,
    },
  },
  required: ['path', 'nested'],
  additionalProperties: false,
});
type Options = FromSchema<typeof options>;

describe('FromSchema: the type of a schema', () => {
  it('maps each type name, enum, const, anyOf and oneOf to a TypeScript type', () => {
    expectTypeOf<Options['path']>().toEqualTypeOf<string | string[]>();
    expectTypeOf<Options['names']>().toEqualTypeOf<string | string[] | undefined>();
    expectTypeOf<Options['format']>().toEqualTypeOf<'auto' | 'csv' | 'json'>();
    expectTypeOf<Options['kind']>().toEqualTypeOf<'dataset' | undefined>();
    expectTypeOf<Options['mode']>().toEqualTypeOf<number | boolean | undefined>();
    expectTypeOf<Options['rate']>().toEqualTypeOf<number>();
    expectTypeOf<Options['tags']>().toEqualTypeOf<string[]>();
    expectTypeOf<Options['maybe']>().toEqualTypeOf<string | null | undefined>();
    expectTypeOf<Options['nested']>().toEqualTypeOf<{ depth: number; label?: string }>();
  });

  it('makes a field present when it is required or has a default, optional otherwise', () => {
    expectTypeOf<PresentKeys<Options>>().toEqualTypeOf<'path' | 'format' | 'rate' | 'shuffle' | 'tags' | 'nested'>();
    expectTypeOf<Options>().toEqualTypeOf<{
      path: string | string[];
      format: 'auto' | 'csv' | 'json';
      rate: number;
      shuffle: boolean;
      tags: string[];
      nested: { depth: number; label?: string };
      names?: string | string[];
      kind?: 'dataset';
      mode?: number | boolean;
      limit?: number;
      maybe?: string | null;
    }>();
  });

  it('allows other fields unless additionalProperties is false, and knows nothing of a schema without type', () => {
    type Open = FromSchema<{ type: 'object'; properties: { a: { type: 'string' } } }>;
    expectTypeOf<Open>().toEqualTypeOf<{ [key: string]: unknown; a?: string }>();
    expectTypeOf<FromSchema<{ description: 'anything' }>>().toBeUnknown();
    expectTypeOf<FromSchema<{ type: 'array' }>>().toEqualTypeOf<unknown[]>();
  });

  it('defineSchema returns the schema itself, keeping its literals, and refuses a misspelt type', () => {
    const s = { type: 'integer', default: 42 } as const;
    expect(defineSchema(s)).toBe(s);
    expectTypeOf(defineSchema({ type: 'integer', default: 42 }).default).toEqualTypeOf<42>();
    // @ts-expect-error 'strng' is not a JSON Schema type name
    defineSchema({ type: 'strng' });
  });
});

describe('FromSchema: what validation fills in', () => {
  class Probe extends BasePlugin {
    static configKey = 'probe';
    static configSchema = options;
  }
  const meta = (readPluginMeta(Probe) as { ok: true; meta: PluginMeta }).meta;

  it('the config validation gives every present field a value, nested defaults included', () => {
    const config = parseConfig('plugins: [probe]\nprobe:\n  path: a.csv\n  nested: {}\n', 'run.yaml');
    expect(validatePluginSections(config, [{ meta, entryIndex: 0 }])).toEqual([]);
    const section = config.section('probe') as Options;
    const present: PresentKeys<Options>[] = ['path', 'format', 'rate', 'shuffle', 'tags', 'nested'];
    expect(Object.keys(section).sort()).toEqual([...present].sort());
    expect(section).toEqual({
      path: 'a.csv',
      format: 'auto',
      rate: 0.5,
      shuffle: true,
      tags: [],
      nested: { depth: 3 },
    });
  });

  it('refuses what the type would not allow, so a section that passes fits the type', () => {
    const config = parseConfig('plugins: [probe]\nprobe:\n  path: 3\n  nested: { label: 4 }\n', 'run.yaml');
    const messages = validatePluginSections(config, [{ meta, entryIndex: 0 }]).map((e) => e.message);
    expect(messages).toContain('probe.path: expected string, got number 3');
    expect(messages).toContain('probe.nested.label: expected string, got number 4');
  });
});
