// Node module hooks for plugin code (registered with module.register by loader.ts; they run on Node's
// loader thread, so this file is plain JS). They do two things:
// 1. `import ... from 'dumbo'` (and 'dumbo/engine') in a plugin anywhere on disk resolves to the SDK (and
//    the training engine) of the running app.
// 2. `.ts`/`.mts` files are transpiled on load with esbuild; a TS-style `./x.js` import finds `./x.ts`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

/** @type {string | undefined} */
let sdkUrl;
/** @type {string | undefined} */
let engineUrl;

/** @param {{ sdkUrl: string, engineUrl?: string }} data */
export async function initialize(data) {
  sdkUrl = data.sdkUrl;
  engineUrl = data.engineUrl;
}

const TS_FILE = /\.[cm]?ts$/;

/**
 * @param {string} specifier
 * @param {{ parentURL?: string }} context
 * @param {(s: string, c?: object) => Promise<{ url: string }>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'dumbo' && sdkUrl) return { url: sdkUrl, shortCircuit: true };
  if (specifier === 'dumbo/engine' && engineUrl) return { url: engineUrl, shortCircuit: true };
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const parent = context.parentURL;
    const relative = specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/');
    if (parent && relative && TS_FILE.test(parent)) {
      const candidates = specifier.endsWith('.js')
        ? [specifier.slice(0, -3) + '.ts']
        : specifier.endsWith('.mjs')
          ? [specifier.slice(0, -4) + '.mts']
          : [specifier + '.ts', specifier + '/index.ts'];
      for (const candidate of candidates) {
        try {
          return await nextResolve(candidate, context);
        } catch {
          // try the next spelling
        }
      }
    }
    throw error;
  }
}

/**
 * @param {string} url
 * @param {object} context
 * @param {(u: string, c?: object) => Promise<{ format?: string, source?: unknown }>} nextLoad
 */
export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !TS_FILE.test(url)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const source = await readFile(file, 'utf8');
  try {
    const out = await transform(source, {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      sourcefile: file,
      sourcemap: 'inline',
    });
    return { format: 'module', source: out.code, shortCircuit: true };
  } catch (error) {
    // esbuild reports each problem with a 0-based column; say it the way the CLI prints errors.
    const first = /** @type {{ errors?: { text: string, location?: { line: number, column: number } }[] }} */ (error)
      .errors?.[0];
    if (first?.location) {
      throw new SyntaxError(`${file}:${first.location.line}:${first.location.column + 1}: ${first.text}`, {
        cause: error,
      });
    }
    throw error;
  }
}
