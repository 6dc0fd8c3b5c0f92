/**
 * The Jinja side of formatting, on @huggingface/jinja: compiling a template with the line of a syntax error,
 * and rendering a prompt template with a row's fields, reporting the fields it uses that the row lacks
 * (unless the template marks them optional with `is defined` or `default`).
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { Err, errorMessage, Ok, type Result } from 'dumbo';

/** Jinja's errors carry no position: find the first line at which the template fails the same way. */
function syntaxErrorMessage(source: string, error: unknown): string {
  const message = errorMessage(error);
  const fails = (src: string) => {
    try {
      new Template(src);
      return undefined;
    } catch (e) {
      return errorMessage(e);
    }
  };
  const lines = source.split('\n');
  let where = '';
  for (let k = 1; k <= lines.length; k++) {
    if (fails(lines.slice(0, k).join('\n')) === message) {
      where = ` at line ${k}`;
      break;
    }
  }
  // The parser's way of saying it ran out of tokens.
  const text = /^Cannot read properties of undefined/.test(message)
    ? 'unexpected end of template (a block or expression is not closed)'
    : message;
  return `syntax error${where}: ${text}`;
}

export function compile(source: string, what: string): Result<Template> {
  try {
    return Ok(new Template(source));
  } catch (error) {
    return Err(new Error(`${what}: ${syntaxErrorMessage(source, error)}`));
  }
}

/**
 * The parts of @huggingface/jinja's runtime used here. Its .d.ts files import `./runtime` without an
 * extension, which NodeNext resolution does not follow, so these classes are typed by hand.
 */
interface RuntimeValue {
  type: string;
  value: unknown;
}
interface JinjaEnvironment {
  variables: Map<string, unknown>;
  set(name: string, value: unknown): unknown;
  lookupVariable(name: string): RuntimeValue;
}
const JinjaEnvironment = Environment as unknown as new () => JinjaEnvironment;
const JinjaInterpreter = Interpreter as unknown as new (env: JinjaEnvironment) => {
  run(program: unknown): RuntimeValue;
};

/** The root scope of a prompt template: remembers the names it looked up and did not find. */
class TrackingEnvironment extends JinjaEnvironment {
  readonly missing = new Set<string>();
  override lookupVariable(name: string): RuntimeValue {
    const value = super.lookupVariable(name);
    if (value.type === 'UndefinedValue') this.missing.add(name);
    return value;
  }
}

function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

function strftimeNow(format: string): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => d.toLocaleString('en-US', { month: style });
  return format.replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad(d.getMonth() + 1);
      case '%d':
        return pad(d.getDate());
      case '%b':
        return month('short');
      case '%B':
        return month('long');
      case '%H':
        return pad(d.getHours());
      case '%M':
        return pad(d.getMinutes());
      default:
        return '%';
    }
  });
}

/** The globals @huggingface/jinja's `Template.render` sets up (it does not export its `setupGlobals`). */
const GLOBALS: Record<string, unknown> = {
  false: false,
  true: true,
  none: null,
  False: false,
  True: true,
  None: null,
  raise_exception: (message: string) => {
    throw new Error(message);
  },
  range,
  strftime_now: strftimeNow,
};

/** Names a template tests with `is defined` / `is undefined` or gives a `default`: optional, may be missing. */
function optionalNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const n of node) optionalNames(n, out);
  } else if (node instanceof Map) {
    for (const [k, v] of node) {
      optionalNames(k, out);
      optionalNames(v, out);
    }
  } else if (node !== null && typeof node === 'object') {
    const n = node as { type?: unknown; operand?: { type?: string; value?: unknown }; test?: { value?: unknown } };
    const filter = (node as { filter?: { type?: string; value?: unknown; callee?: { value?: unknown } } }).filter;
    if (n.operand?.type === 'Identifier' && typeof n.operand.value === 'string') {
      const filterName = filter?.type === 'CallExpression' ? filter.callee?.value : filter?.value;
      if (
        (n.type === 'TestExpression' && (n.test?.value === 'defined' || n.test?.value === 'undefined')) ||
        (n.type === 'FilterExpression' && (filterName === 'default' || filterName === 'd'))
      ) {
        out.add(n.operand.value);
      }
    }
    for (const v of Object.values(node)) if (v !== null && typeof v === 'object') optionalNames(v, out);
  }
  return out;
}

/** Values a Jinja runtime accepts: bigints and dates (as some loaders give them) become numbers and strings. */
export function jinjaValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  return v;
}

/** A compiled prompt template: renders a row's fields, reporting fields it uses that the row lacks. */
export class PromptTemplate {
  private readonly optional: Set<string>;
  constructor(private readonly template: Template) {
    this.optional = optionalNames(template.parsed);
  }

  /**
   * Ok(text), or Err(message) of what went wrong (the caller names the row). `hidden`: the field not passed
   * (the response); `fields`: the row's fields, for messages.
   */
  render(context: Record<string, unknown>, hidden: string, fields: string): Result<string, string> {
    const env = new TrackingEnvironment();
    try {
      for (const [k, v] of Object.entries(context)) if (!env.variables.has(k)) env.set(k, jinjaValue(v));
      for (const [k, v] of Object.entries(GLOBALS)) if (!env.variables.has(k)) env.set(k, v);
    } catch (error) {
      return Err(`cannot pass the row to the template: ${errorMessage(error)}`);
    }
    let result: RuntimeValue;
    try {
      result = new JinjaInterpreter(env).run(this.template.parsed);
    } catch (error) {
      return Err(`template error: ${errorMessage(error)}`);
    }
    const missing = [...env.missing].filter((name) => !this.optional.has(name));
    if (missing.includes(hidden)) {
      return Err(
        `the template uses '${hidden}', the response field: the template renders the prompt only and the ` +
          `response is appended after it`,
      );
    }
    if (missing.length) {
      return Err(
        `missing field '${missing[0]}' used by the template (the row has: ${fields}); ` +
          `write {{ ${missing[0]} | default('') }} for an optional field`,
      );
    }
    if (result.type !== 'StringValue' || typeof result.value !== 'string') {
      return Err(`the template rendered ${result.type}, not a string`);
    }
    return Ok(result.value);
  }
}
