/**
 * `dumbo validate CONFIG`, `dumbo plugins [CONFIG]` and `dumbo plugins --fields NAME` (a plugin's section
 * documented field by field, as the editor's hover shows it): what a config loads and whether it would run, asked of
 * the plugin worker (src/host/worker.ts), as `dumbo serve` and the app ask it. Plugin code never runs in this
 * process: a plugin whose module calls `process.exit(0)` or crashes cannot make `dumbo validate` end with
 * exit 0 and no output. `validate` also runs the data path on the first rows (the tokenizer loads, the
 * dataset files and columns are read, the template renders), so what would fail in a run's first seconds
 * fails here, at its line.
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { didYouMean, displayPath, DumboError, parseConfig, userPluginDir } from '../core/index.js';
import { defaultEntries, nodeForkHost } from '../host/process.js';
import { WorkerClient, WorkerRequestError } from '../services/worker-client.js';
import type { ConfigProblem, PluginCard } from '../shared/api.js';
import { fieldDocLines } from '../shared/field-docs.js';

/** One worker for one command: started on the first request, ended with the command. */
async function withWorker<T>(f: (w: WorkerClient) => Promise<T>): Promise<T> {
  const worker = new WorkerClient({ fork: nodeForkHost(), entry: defaultEntries().worker, name: 'plugin worker' });
  try {
    return await f(worker);
  } finally {
    worker.dispose();
  }
}

function readConfigText(configFile: string): string {
  try {
    return readFileSync(configFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : String(error);
    throw new DumboError(`cannot read config: ${why}`, { location: { file: displayPath(configFile) } });
  }
}

/** `FILE:LINE:COL: message`, as every error line of the CLI. */
function problemLine(p: ConfigProblem): string {
  return p.file
    ? `${displayPath(p.file)}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}: ${p.message}`
    : p.message;
}

function sourceLabel(c: PluginCard): string {
  return c.source === 'builtin' ? 'built-in' : c.source;
}

function describePlugin(c: PluginCard) {
  return {
    name: c.name,
    className: c.className,
    configKey: c.configKey,
    source: c.source,
    location: c.location,
    provides: c.provides,
    requires: c.requires,
    conflicts: c.conflicts,
    description: c.description,
    version: c.version,
  };
}

/** The worker died while loading plugin code: that is the config's problem, said at the config file. */
function lost(configFile: string, error: unknown): ConfigProblem[] {
  if (error instanceof WorkerRequestError && error.problems.length > 0) return error.problems;
  return [{ file: displayPath(configFile), message: (error as Error).message }];
}

export async function validateCommand(
  configFile: string,
  pluginPath: string | undefined,
  json: boolean,
): Promise<number> {
  const text = readConfigText(configFile);
  const abs = path.resolve(configFile);
  // YAML syntax is checked here, before any worker starts: no plugin code is involved, and the error keeps its
  // stack for --verbose like every other error of this process.
  parseConfig(text, abs);
  const result = await withWorker((w) =>
    w
      .request('validate', { text, path: abs, userPluginDir: userPluginDir(pluginPath), dataCheck: true })
      .catch((error: unknown) => ({ valid: false, problems: lost(configFile, error), plugins: [] })),
  );
  if (!result.valid) {
    const lines = result.problems.map(problemLine);
    for (const line of lines) process.stderr.write(line + '\n');
    if (json) process.stdout.write(JSON.stringify({ valid: false, errors: lines }) + '\n');
    return 2;
  }
  process.stdout.write(`${displayPath(configFile)}: valid; plugins in the order they run:\n`);
  result.plugins.forEach((p, i) => {
    const provides = p.provides.length ? p.provides.join(', ') : '(nothing)';
    process.stdout.write(
      `  ${i + 1}. ${p.name} ${p.className} [${p.configKey}] (${sourceLabel(p)}) provides: ${provides}` +
        (p.requires.length ? `; requires: ${p.requires.join(', ')}` : '') +
        '\n',
    );
  });
  if (!result.plugins.some((p) => p.provides.includes('trainer'))) {
    process.stdout.write('  note: no plugin provides a trainer; a run will not train.\n');
  }
  if (json) process.stdout.write(JSON.stringify({ valid: true, plugins: result.plugins.map(describePlugin) }) + '\n');
  return 0;
}

export async function pluginsCommand(
  configFile: string | undefined,
  pluginPath: string | undefined,
  json: boolean,
): Promise<number> {
  const folder = userPluginDir(pluginPath);
  const text = configFile === undefined ? undefined : readConfigText(configFile);
  const abs = configFile === undefined ? undefined : path.resolve(configFile);
  const { catalog, configErrors } = await withWorker(async (w) => {
    const catalog = await w.request('catalog', { userPluginDir: folder, configText: text, configPath: abs });
    let configErrors: string[] = [];
    if (text !== undefined) {
      const checked = await w
        .request('validate', { text, path: abs!, userPluginDir: folder })
        .catch((error: unknown) => ({ valid: false, problems: lost(configFile!, error), plugins: [] }));
      configErrors = checked.problems.map(problemLine);
    }
    return { catalog, configErrors };
  });
  const used = new Set(catalog.used);
  const rows = catalog.cards.map((c) => ({
    ...describePlugin(c),
    folder: c.folder,
    used: used.has(c.id),
    ...(c.error !== undefined ? { error: c.error } : {}),
  }));
  process.stdout.write(`user plugin folder: ${folder}\n`);
  for (const r of rows) {
    if (r.error === undefined) {
      const list = (xs: string[]) => (xs.length ? xs.join(', ') : '-');
      process.stdout.write(
        `${r.used ? '*' : ' '} ${r.name} ${r.className} [${r.configKey}] (${r.source}: ${r.location})\n` +
          `    provides: ${list(r.provides)}; requires: ${list(r.requires)}; conflicts: ${list(r.conflicts)}\n` +
          (r.description ? `    ${r.description}\n` : ''),
      );
    } else {
      process.stdout.write(`! ${r.name} (${r.source}: ${r.location})\n    load error: ${r.error}\n`);
    }
  }
  if (configFile) process.stdout.write(`* = used by ${configFile}\n`);
  for (const line of configErrors) process.stderr.write(line + '\n');
  if (json) process.stdout.write(JSON.stringify({ plugins: rows, configErrors }) + '\n');
  return configErrors.length > 0 ? 2 : 0;
}

/** The catalog cards `name` means: its folder, the name `plugins:` takes, its own name or its section's key. */
function cardsNamed(cards: readonly PluginCard[], name: string): PluginCard[] {
  return cards.filter(
    (c) => !c.error && (c.name === name || c.folder === name || c.pluginName === name || c.configKey === name),
  );
}

/**
 * `dumbo plugins [CONFIG] --fields NAME`: the fields of the plugin's section, each with its type, default,
 * bounds and description (src/shared/field-docs.ts, as the editor's hover says them). With CONFIG, the
 * plugins it names by path or package count too.
 */
export async function fieldsCommand(
  name: string,
  configFile: string | undefined,
  pluginPath: string | undefined,
  json: boolean,
): Promise<number> {
  const text = configFile === undefined ? undefined : readConfigText(configFile);
  const abs = configFile === undefined ? undefined : path.resolve(configFile);
  const { cards } = await withWorker((w) =>
    w.request('catalog', { userPluginDir: userPluginDir(pluginPath), configText: text, configPath: abs }),
  );
  const found = cardsNamed(cards, name);
  if (found.length === 0) {
    const names = [...new Set(cards.filter((c) => !c.error).flatMap((c) => [c.name, c.configKey]))];
    const guess = didYouMean(name, names);
    throw new DumboError(
      `no plugin named '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}: 'dumbo plugins' lists them`,
    );
  }
  // The classes of one folder that read the same section with the same schema are shown once.
  const groups = new Map<string, PluginCard[]>();
  for (const c of found) {
    const id = `${c.configKey}|${JSON.stringify(c.section ?? null)}`;
    groups.set(id, [...(groups.get(id) ?? []), c]);
  }
  const lines: string[] = [];
  for (const group of groups.values()) {
    const c = group[0]!;
    const classes = group.map((g) => g.className).join(', ');
    lines.push(`${c.name} (${classes}, ${sourceLabel(c)}): the ${c.configKey}: section`);
    const fields = c.section?.fields ?? [];
    if (fields.length === 0) lines.push('  (no fields declared)');
    for (const f of fields) lines.push(...fieldDocLines(f, '  '));
    if (c.section?.open && fields.length > 0) lines.push('  (other fields are accepted too)');
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (json) {
    const plugins = found.map((c) => ({ ...describePlugin(c), fields: c.section?.fields ?? [] }));
    process.stdout.write(JSON.stringify({ plugins }) + '\n');
  }
  return 0;
}
