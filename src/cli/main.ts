/**
 * The `dumbo` command (DESIGN.md section 5): run, validate, plugins, generate, score, doctor, serve, --help,
 * --version.
 * Logs go to stderr; machine-readable output (`--json`) is the last stdout line. The last line of a failure
 * is `FILE[:LINE:COL]: message`; no stack trace unless --verbose. Exit codes: 0 completed, 1 the run failed,
 * 2 bad usage/config/resolution, 130 stopped by the user.
 *
 * A run executes in a forked run host (src/host), the same one the app uses, so Ctrl-C is handled while a
 * training step blocks the host. `serve` (serve.ts) is the app's browser door on src/services. May import
 * core, host and services.
 */

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  BACKEND_CHOICES,
  ConfigErrors,
  exitCodeFor,
  formatError,
  userPluginDir,
  type BackendChoice,
} from '../core/index.js';
import { dumboVersion } from '../host/info.js';

const HELP = `dumbo: fine-tune language models on your own machine; everything is a plugin.

Usage:
  dumbo run CONFIG [--output DIR]   run a config (also: dumbo CONFIG)
  dumbo run CONFIG --resume RUN     continue the run in folder RUN from its newest checkpoint
  dumbo resume RUN                  the same, with the config the run folder keeps (RUN/config.yaml)
  dumbo validate CONFIG [--json]    load and resolve a config, and read its data's first rows, without training
  dumbo plugins [CONFIG] [--json]   list the plugin catalog (and the config's plugins)
  dumbo plugins [CONFIG] --fields NAME [--json]   the fields of plugin NAME's section: type, default, doc
  dumbo generate --model DIR [--adapter DIR] --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
                 [--top-p P] [--seed S]
  dumbo score --model DIR [--adapter DIR] --text FILE [--json]   mean cross-entropy (nats/token) and perplexity
  dumbo merge --model DIR --adapter DIR --output DIR   a LoRA adapter merged into its base: a plain model folder
  dumbo doctor [--json]             which backend runs here (the GPU adapter, for WebGPU), and why not a faster one
  dumbo serve [CONFIG] [--port N] [--host H]
                                    the workbench in a browser: HTTP + WebSocket on 127.0.0.1, token-protected
  dumbo wandb-sync RUN              upload the W&B runs a run folder keeps (wandb plugin, offline or unfinished)
  dumbo --help | --version

Options:
  --output DIR        the run folder (default: output_dir of the config, else runs/<date>-<name>): a new or
                      empty folder (a folder that holds a run only with --resume)
  --resume RUN        run: continue the run in folder RUN (resume_from: latest)
  --plugin-path DIR   the user plugin folder (default: $DUMBO_PLUGIN_PATH, else ${userPluginDir()})
  --json              print machine-readable output as the last stdout line
  --adapter DIR       generate/score/merge: a PEFT LoRA adapter folder (a LoRA run's final/ or checkpoint, or
                      one saved by Python's PEFT) applied to --model
  --backend B         generate/score/merge/doctor: auto (default), gpu, webgpu, native, native-cpu,
                      cpu or wasm
  --allow-software    generate/score/merge/doctor: let --backend webgpu use a software adapter (llvmpipe)
  --port N            serve: the port (default 0: any free port; the URL is printed)
  --host H            serve: the address (default 127.0.0.1; another one prints a warning)
  --verbose           print stack traces with errors

Exit codes: 0 completed, 1 the run failed, 2 bad usage, config or plugin resolution; stopped by a signal:
130 (Ctrl-C, SIGINT), 143 (SIGTERM), 129 (SIGHUP), after the run finished its step and saved a checkpoint.
`;

class UsageError extends Error {}

function printError(error: unknown, verbose: boolean): number {
  if (verbose && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
  const lines = error instanceof ConfigErrors ? error.errors.map((e) => formatError(e)) : [formatError(error)];
  for (const line of lines) process.stderr.write(line + '\n');
  return exitCodeFor(error);
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
        output: { type: 'string', short: 'o' },
        resume: { type: 'string' },
        'plugin-path': { type: 'string' },
        fields: { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        model: { type: 'string' },
        adapter: { type: 'string' },
        prompt: { type: 'string' },
        text: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        temperature: { type: 'string' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        seed: { type: 'string' },
        backend: { type: 'string' },
        'allow-software': { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`dumbo: ${(error as Error).message}\nRun 'dumbo --help' for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const verbose = values.verbose === true;
  if (values.version) {
    process.stdout.write(`dumbo ${dumboVersion()}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  let [command, ...rest] = positionals as [string, ...string[]];
  const commands = [
    'run',
    'resume',
    'validate',
    'plugins',
    'generate',
    'score',
    'merge',
    'doctor',
    'serve',
    'wandb-sync',
    'help',
  ];
  if (/\.ya?ml$/i.test(command) || (existsSync(command) && !commands.includes(command))) {
    rest = [command, ...rest];
    command = 'run';
  }
  const pluginPath = values['plugin-path'];
  try {
    switch (command) {
      case 'run': {
        if (values.resume !== undefined && values.output !== undefined) {
          throw new UsageError('--resume names the run folder already: leave --output out');
        }
        const { runCommand } = await import('./run-command.js');
        return await runCommand(oneConfig(rest, 'run'), {
          outputDir: values.output,
          resume: values.resume,
          userPluginDir: pluginPath,
          verbose,
        });
      }
      case 'resume': {
        if (rest.length !== 1) throw new UsageError('resume needs exactly one RUN folder');
        const { runCommand } = await import('./run-command.js');
        return await runCommand(undefined, { resume: rest[0], userPluginDir: pluginPath, verbose });
      }
      case 'validate': {
        const { validateCommand } = await import('./catalog-commands.js');
        return await validateCommand(oneConfig(rest, 'validate'), pluginPath, values.json === true);
      }
      case 'plugins': {
        if (rest.length > 1) throw new UsageError('plugins takes at most one CONFIG');
        const { fieldsCommand, pluginsCommand } = await import('./catalog-commands.js');
        if (values.fields !== undefined) {
          return await fieldsCommand(values.fields, rest[0], pluginPath, values.json === true);
        }
        return await pluginsCommand(rest[0], pluginPath, values.json === true);
      }
      case 'help':
        process.stdout.write(HELP);
        return 0;
      case 'generate': {
        const { generateCommand } = await import('./engine-commands.js');
        return await generateCommand({
          model: required(values.model, '--model DIR'),
          adapter: values.adapter,
          // --prompt '' is a prompt: the sample starts from the model's BOS or EOS token.
          prompt: values.prompt ?? missing('--prompt TEXT'),
          maxNewTokens: intOption(values['max-new-tokens'], '--max-new-tokens', 64),
          temperature: numberOption(values.temperature, '--temperature', 0.8),
          topK: values['top-k'] === undefined ? undefined : intOption(values['top-k'], '--top-k', 0),
          topP: values['top-p'] === undefined ? undefined : numberOption(values['top-p'], '--top-p', 1),
          seed: intOption(values.seed, '--seed', 0),
          backend: backendOption(values.backend),
          allowSoftware: values['allow-software'],
        });
      }
      case 'score': {
        const { scoreCommand } = await import('./engine-commands.js');
        return await scoreCommand({
          model: required(values.model, '--model DIR'),
          adapter: values.adapter,
          text: required(values.text, '--text FILE'),
          json: values.json === true,
          backend: backendOption(values.backend),
          allowSoftware: values['allow-software'],
        });
      }
      case 'merge': {
        const { mergeCommand } = await import('./engine-commands.js');
        return await mergeCommand({
          model: required(values.model, '--model DIR'),
          adapter: required(values.adapter, '--adapter DIR'),
          output: required(values.output, '--output DIR'),
          backend: backendOption(values.backend),
          allowSoftware: values['allow-software'],
        });
      }
      case 'serve': {
        if (rest.length > 1) throw new UsageError('serve takes at most one CONFIG');
        const port = intOption(values.port, '--port', 0);
        if (port > 65535) throw new UsageError(`--port expects 0 to 65535, got '${values.port}'`);
        if (values.host !== undefined && values.host.trim() === '') throw new UsageError('--host expects an address');
        const { serveCommand } = await import('./serve.js');
        return await serveCommand({ config: rest[0], port, host: values.host, userPluginDir: pluginPath });
      }
      case 'wandb-sync': {
        if (rest.length !== 1) throw new UsageError('wandb-sync needs exactly one RUN folder');
        const { wandbSyncCommand } = await import('./wandb-sync.js');
        return await wandbSyncCommand(rest[0]!);
      }
      case 'doctor': {
        const { doctorCommand } = await import('./engine-commands.js');
        return await doctorCommand(values.json === true, {
          backend: backendOption(values.backend),
          allowSoftware: values['allow-software'],
        });
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`dumbo: ${error.message}\nRun 'dumbo --help' for usage.\n`);
      return 2;
    }
    return printError(error, verbose);
  }
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') missing(what);
  return value;
}

function missing(what: string): never {
  throw new UsageError(`missing ${what}`);
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`${name} expects a number, got '${value}'`);
  return n;
}

function intOption(value: string | undefined, name: string, fallback: number): number {
  const n = numberOption(value, name, fallback);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} expects a whole number >= 0, got '${value}'`);
  return n;
}

function backendOption(value: string | undefined): BackendChoice {
  const v = value ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) {
    throw new UsageError(`--backend expects one of ${BACKEND_CHOICES.join(', ')}, got '${v}'`);
  }
  return v as BackendChoice;
}

function oneConfig(rest: string[], command: string): string {
  if (rest.length !== 1) throw new UsageError(`${command} needs exactly one CONFIG file`);
  return rest[0]!;
}
