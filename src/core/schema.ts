/**
 * Config typed once: a plugin declares each field of its section in a JSON Schema written `as const` (or
 * through `defineSchema`), and reads the section through `FromSchema<typeof schema>`, the TypeScript type
 * that schema describes. Ajv checks the section against the same schema before any hook runs, so the code
 * needs no second declaration of the fields and no checks of its own for what the schema says.
 *
 *   const schema = defineSchema({
 *     type: 'object',
 *     properties: { path: { type: 'string' }, limit: { type: 'integer' }, shuffle: { type: 'boolean', default: true } },
 *     required: ['path'],
 *     additionalProperties: false,
 *   });
 *   type Options = FromSchema<typeof schema>;   // { path: string; shuffle: boolean; limit?: number }
 *
 * A field is present in the type when it is `required` or has a `default` (Ajv runs with `useDefaults`, so it
 * fills defaults in); any other field is optional. Read by the type: `type` (one or a list), `enum`, `const`,
 * `items`, `properties`, `required`, `additionalProperties: false`, `anyOf`, `oneOf`, `default`. Other
 * keywords (`minimum`, `minLength`, `pattern`, ...) are checked by Ajv and do not change the type.
 * Part of the SDK (`import { defineSchema, type FromSchema } from 'dumbo'`); imports nothing.
 */

export type SchemaType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null';

/** The JSON Schema keywords `FromSchema` reads, typed so that a misspelt `type` does not compile. */
export interface SchemaDef {
  readonly type?: SchemaType | readonly SchemaType[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly items?: SchemaDef;
  readonly properties?: { readonly [key: string]: SchemaDef };
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | SchemaDef;
  readonly anyOf?: readonly SchemaDef[];
  readonly oneOf?: readonly SchemaDef[];
  readonly default?: unknown;
  readonly description?: string;
  /** Every other keyword: checked by Ajv, not read by `FromSchema`. */
  readonly [keyword: string]: unknown;
}

/**
 * Returns `schema` as it is; its job is the type: the `const` parameter keeps every literal (`'object'`,
 * `['path']`, `default: 42`), so that `FromSchema<typeof schema>` can read them, and checks the keywords.
 */
export function defineSchema<const S extends SchemaDef>(schema: S): S {
  return schema;
}

/** The type of a value that `S` accepts, once Ajv has filled in its defaults. */
export type FromSchema<S> = S extends { readonly const: infer C }
  ? C
  : S extends { readonly enum: readonly (infer E)[] }
    ? E
    : S extends { readonly anyOf: readonly (infer A)[] }
      ? FromSchema<A>
      : S extends { readonly oneOf: readonly (infer A)[] }
        ? FromSchema<A>
        : S extends { readonly type: infer T }
          ? FromType<T extends readonly (infer U)[] ? U : T, S>
          : unknown;

/** One `type` name (distributed over a union of them) as a TypeScript type. */
type FromType<T, S> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? (S extends { readonly items: infer I } ? FromSchema<I> : unknown)[]
          : T extends 'object'
            ? FromObject<S>
            : never;

type FromObject<S> = S extends { readonly properties: infer P }
  ? Flatten<
      { -readonly [K in keyof P as K extends Present<S, P> ? K : never]: FromSchema<P[K]> } & {
        -readonly [K in keyof P as K extends Present<S, P> ? never : K]?: FromSchema<P[K]>;
      } & (S extends { readonly additionalProperties: false } ? unknown : { [key: string]: unknown })
    >
  : { [key: string]: unknown };

/** The keys sure to be there after validation: the `required` ones and those with a `default`. */
type Present<S, P> =
  | (S extends { readonly required: readonly (infer R)[] } ? R : never)
  | { [K in keyof P]: P[K] extends { readonly default: unknown } ? K : never }[keyof P];

/** One object type instead of an intersection, so editors show the fields. */
type Flatten<T> = { [K in keyof T]: T[K] };
