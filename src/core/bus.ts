/**
 * The hook bus: calls hooks on the active plugins by the calling rules of hooks.ts, records every call in the
 * trace, and turns every failure into a Result with the plugin and hook attached, in one place (`call`).
 *
 * - `first`     first Ok wins; later plugins are not asked.
 * - `pipe`      each implementer in order gets the previous Ok value; an Err stops.
 * - `observe`   everyone is called; failures are logged, counted and returned, never thrown.
 * - `exclusive` the single implementer is called; an Err stops.
 *
 * Each method takes only hooks of its rule (the compiler checks it, and the bus again at run time for plain
 * JS callers). Every call passes the plugin's context (context.ts) after the hook's own arguments.
 */

import { DumboError, type ErrorLocation } from './errors.js';
import { standaloneContext, type Emit, type PluginContext, type RunInfo } from './context.js';
import {
  getHookSpec,
  hookNames,
  type EmitResult,
  type ExclusiveHook,
  type FirstHook,
  type HookArgs,
  type HookMode,
  type HookName,
  type HookValue,
  type ObserveHook,
  type PipeHook,
  type PluginHooks,
} from './hooks.js';
import { getLogger, type Logger } from './logger.js';
import type { LoadedPlugin } from './loader.js';
import type { PluginMeta } from './plugin.js';
import type { TraceEntry } from './records.js';
import { Err, errorMessage, isResult, Ok, type Result } from './result.js';
import { withActivity } from './activity.js';
import { didYouMean } from './suggest.js';

export type { TraceEntry } from './records.js';

/** An observer hook that failed: the run went on. */
export interface HookFailure {
  hook: string;
  plugin: string;
  error: string;
}

export interface ActivePlugin {
  meta: PluginMeta;
  instance: object;
  hooks: PluginHooks;
  entryIndex: number;
  /** Where the plugin's code lives (for error messages). */
  entry?: string;
}

/** Instantiates each loaded plugin and checks its hook map against the hook table (pluggy-style, up front). */
export function activatePlugins(loaded: readonly LoadedPlugin[]): ActivePlugin[] {
  return loaded.map((p) => {
    let instance: { hooks(): unknown };
    try {
      instance = new p.cls();
    } catch (error) {
      throw new DumboError(`plugin ${p.meta.name} could not be created: ${errorMessage(error)}`, {
        location: { file: p.source.entry },
        plugin: p.meta.name,
      });
    }
    let hooks: unknown;
    try {
      hooks = instance.hooks();
    } catch (error) {
      throw new DumboError(`plugin ${p.meta.name}: hooks() threw: ${errorMessage(error)}`, {
        location: { file: p.source.entry },
        plugin: p.meta.name,
      });
    }
    if (typeof hooks !== 'object' || hooks === null) {
      throw new DumboError(`plugin ${p.meta.name}: hooks() must return an object of hook functions`, {
        location: { file: p.source.entry },
        plugin: p.meta.name,
      });
    }
    for (const [name, fn] of Object.entries(hooks)) {
      if (!getHookSpec(name)) {
        const hint = didYouMean(name, hookNames());
        throw new DumboError(
          `plugin ${p.meta.name} has hook '${name}', which is not a known hook` +
            (hint ? ` (did you mean '${hint}'?)` : ' (see docs/plugins.md for the hook table)'),
          { location: { file: p.source.entry }, plugin: p.meta.name },
        );
      }
      if (typeof fn !== 'function') {
        throw new DumboError(`plugin ${p.meta.name}: hook '${name}' is not a function`, {
          location: { file: p.source.entry },
          plugin: p.meta.name,
        });
      }
    }
    return { meta: p.meta, instance, hooks: hooks as PluginHooks, entryIndex: p.entryIndex, entry: p.source.entry };
  });
}

type Args<H extends HookName> = HookArgs<H>;
type Value<H extends HookName> = HookValue<H>;

/** The plugin whose `Ok` won and its value; `undefined` when no plugin implements the hook. */
type Winner<H extends HookName> = Promise<{ plugin: ActivePlugin; value: Value<H> } | undefined>;

export interface HookBusOptions {
  onTrace?: (entry: TraceEntry) => void;
  /** Called as each hook call starts (its trace entry comes when it ends): a watchdog's start signal. */
  onCallStart?: (call: { hook: string; plugin: string; start: number }) => void;
  logger?: Logger;
  /** Where a plugin's failure points in the config: the field its message names, else its section. */
  locate?: (plugin: ActivePlugin, message?: string) => ErrorLocation;
  /** The run the calls belong to: what each plugin's context says (default: `standaloneContext`'s). */
  run?: RunInfo;
}

export class HookBus {
  /** Observer failures so far, in order. */
  readonly failures: HookFailure[] = [];
  private readonly logger: Logger;
  private readonly contexts = new Map<ActivePlugin, PluginContext>();

  constructor(
    readonly plugins: readonly ActivePlugin[],
    private readonly options: HookBusOptions = {},
  ) {
    this.logger = options.logger ?? getLogger('dumbo');
  }

  implementers(hook: HookName, plugins: readonly ActivePlugin[] = this.plugins): ActivePlugin[] {
    return plugins.filter((p) => typeof p.hooks[hook] === 'function');
  }

  /** The context `p`'s hooks receive (one per plugin and bus). */
  context(p: ActivePlugin): PluginContext {
    let ctx = this.contexts.get(p);
    if (!ctx) {
      ctx = {
        ...standaloneContext(p.meta.name, this.options.run),
        emit: ((hook: HookName, ...args: unknown[]) => this.emit(p, hook, args)) as Emit,
      };
      this.contexts.set(p, ctx);
    }
    return ctx;
  }

  /** First Ok wins. `undefined` when no plugin implements the hook; throws when all of them fail. */
  async first<H extends FirstHook>(hook: H, args: (p: ActivePlugin) => Args<H>): Winner<H> {
    this.checkMode(hook, 'first');
    return this.firstOk(hook, this.implementers(hook), args);
  }

  /** Each implementer (of `plugins`, default all, in order) transforms the value in turn; an Err stops the run. */
  async pipe<H extends PipeHook>(
    hook: H,
    initial: Value<H>,
    args: (p: ActivePlugin, value: Value<H>) => Args<H>,
    plugins: readonly ActivePlugin[] = this.plugins,
  ): Promise<Value<H>> {
    this.checkMode(hook, 'pipe');
    let value = initial;
    for (const p of this.implementers(hook, plugins)) {
      const r = await this.call(p, hook, args(p, value));
      if (!r.ok) throw this.failure(p, hook, `${p.meta.name}: ${errorMessage(r.error)}`);
      value = r.value as Value<H>;
    }
    return value;
  }

  /** The one implementer (resolution guarantees at most one); `undefined` when none. An Err stops the run. */
  async exclusive<H extends ExclusiveHook>(hook: H, args: (p: ActivePlugin) => Args<H>): Winner<H> {
    this.checkMode(hook, 'exclusive');
    return this.firstOk(hook, this.implementers(hook).slice(0, 1), args);
  }

  /** `impl` asked in turn until one returns Ok; when all fail, one failure naming each plugin's error. */
  private async firstOk<H extends HookName>(
    hook: H,
    impl: readonly ActivePlugin[],
    args: (p: ActivePlugin) => Args<H>,
  ): Winner<H> {
    if (impl.length === 0) return undefined;
    const errors: string[] = [];
    for (const p of impl) {
      const r = await this.call(p, hook, args(p));
      if (r.ok) return { plugin: p, value: r.value as Value<H> };
      errors.push(`${p.meta.name}: ${errorMessage(r.error)}`);
    }
    throw this.failure(impl[impl.length - 1]!, hook, errors.join('; '));
  }

  /** Everyone is called; failures are logged and counted, never thrown. Returns the Ok values. */
  async observe<H extends ObserveHook>(
    hook: H,
    args: (p: ActivePlugin) => Args<H>,
    plugins: readonly ActivePlugin[] = this.plugins,
  ): Promise<{ plugin: ActivePlugin; value: Value<H> }[]> {
    this.checkMode(hook, 'observe');
    const values: { plugin: ActivePlugin; value: Value<H> }[] = [];
    for (const p of this.implementers(hook, plugins)) {
      const r = await this.call(p, hook, args(p), true);
      if (r.ok) {
        values.push({ plugin: p, value: r.value as Value<H> });
      } else {
        const error = errorMessage(r.error);
        this.failures.push({ hook, plugin: p.meta.name, error });
        this.logger.warn(`${hook} failed in plugin ${p.meta.name}: ${error} (the run goes on)`);
      }
    }
    return values;
  }

  /**
   * A hook called by a plugin (`context.emit`), by its registered rule, with the same arguments for every
   * implementer: `observe` -> the Ok values; `first`/`exclusive` -> the winning value or undefined; `pipe` ->
   * the first argument transformed by each implementer in turn. The hooks the run calls are refused: a
   * plugin calling `model_loader` or `finish` would run the lifecycle out of order.
   */
  async emit<H extends HookName>(from: ActivePlugin, hook: H, args: unknown[]): Promise<EmitResult<H>> {
    const spec = getHookSpec(hook);
    if (!spec) {
      const hint = didYouMean(hook, hookNames());
      throw new DumboError(
        `plugin ${from.meta.name} emitted '${hook}', which is not a known hook` +
          (hint ? ` (did you mean '${hint}'?)` : ' (register it with defineHook first)'),
        { plugin: from.meta.name, hook },
      );
    }
    if ((spec.caller ?? 'plugin') === 'run') {
      throw new DumboError(`plugin ${from.meta.name} emitted '${hook}': that hook is called by the run itself`, {
        plugin: from.meta.name,
        hook,
      });
    }
    // The typed methods take only hooks of their rule; here the rule is known at run time.
    type AnyHook = FirstHook & PipeHook & ObserveHook & ExclusiveHook;
    const h = hook as unknown as AnyHook;
    const fixed = () => args as Args<AnyHook>;
    switch (spec.mode) {
      case 'observe':
        return (await this.observe(h, fixed)).map((r) => r.value) as EmitResult<H>;
      case 'first':
        return (await this.first(h, fixed))?.value as EmitResult<H>;
      case 'exclusive': {
        const impl = this.implementers(hook);
        if (impl.length > 1) {
          throw new DumboError(
            `hook '${hook}' is exclusive, but ${impl.map((p) => p.meta.name).join(' and ')} both implement it`,
            { plugin: from.meta.name, hook },
          );
        }
        return (await this.exclusive(h, fixed))?.value as EmitResult<H>;
      }
      case 'pipe':
        return (await this.pipe(
          h,
          args[0] as Value<AnyHook>,
          (_p, v) => [v, ...args.slice(1)] as Args<AnyHook>,
        )) as EmitResult<H>;
    }
  }

  private checkMode(hook: HookName, mode: HookMode): void {
    const spec = getHookSpec(hook);
    if (spec && spec.mode !== mode) {
      throw new DumboError(`hook '${hook}' is called by rule '${spec.mode}', not '${mode}'`, { hook });
    }
  }

  /** The one place a hook is called: a throw becomes Err, the call is traced. */
  private async call(
    p: ActivePlugin,
    hook: HookName,
    args: unknown[],
    observer = false,
  ): Promise<Result<unknown, unknown>> {
    const fn = p.hooks[hook] as (...a: unknown[]) => unknown;
    const start = Date.now();
    const t0 = performance.now();
    this.options.onCallStart?.({ hook, plugin: p.meta.name, start });
    let result: Result<unknown, unknown>;
    try {
      const ctx = this.context(p);
      const out = await withActivity(`plugin ${p.meta.name}, hook ${hook}`, () => fn.apply(p.instance, [...args, ctx]));
      if (isResult(out)) {
        result = out.ok ? Ok((out as { value: unknown }).value) : Err((out as { error: unknown }).error);
      } else if (out === undefined && observer) {
        result = Ok(undefined);
      } else {
        result = Err(
          new Error(`${hook} returned ${describe(out)} instead of a Result (return Ok(value) or Err(error))`),
        );
      }
    } catch (error) {
      result = Err(error);
    }
    const entry: TraceEntry = { hook, plugin: p.meta.name, start, durationMs: performance.now() - t0, ok: result.ok };
    if (!result.ok) entry.error = errorMessage(result.error);
    this.options.onTrace?.(entry);
    return result;
  }

  private failure(p: ActivePlugin, hook: HookName, message: string): DumboError {
    return new DumboError(`${hook} failed: ${message}`, {
      kind: 'run',
      plugin: p.meta.name,
      hook,
      location: this.options.locate?.(p, message) ?? {},
    });
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof v}`;
}
