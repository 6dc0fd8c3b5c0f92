// Where the desktop app finds its service layer and helper processes. Main runs the same built services as
// `dumbo serve` (dist/services, made by scripts/build.mjs): loaded at run time, not bundled into out/main,
// so their `import.meta.url`-relative paths (built-in plugins, examples, the run host) keep dist/'s layout,
// and no logic exists twice. The app root is two folders above out/main/index.js: the repository while
// developing, resources/app.asar in a packaged app (electron-builder.yml puts out/, dist/, plugins/ and
// resources/ there).

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ForkHost, Services, ServicesOptions } from '../services/index.js';

/**
 * The esbuild executable unpacked next to a packaged app's archive (electron-builder.yml unpacks it): a
 * binary inside app.asar cannot be spawned, and esbuild would look for it there. The helper processes get
 * it as ESBUILD_BINARY_PATH.
 */
export function unpackedEsbuild(resourcesPath: string, platform: NodeJS.Platform, arch: string): string {
  const bin = platform === 'win32' ? 'esbuild.exe' : join('bin', 'esbuild');
  return join(resourcesPath, 'app.asar.unpacked', 'node_modules', '@esbuild', `${platform}-${arch}`, bin);
}

/** The built files the app needs under its root. */
export function appFiles(appRoot: string) {
  return {
    services: join(appRoot, 'dist', 'services', 'index.js'),
    runHost: join(appRoot, 'dist', 'host', 'entry.js'),
    worker: join(appRoot, 'dist', 'host', 'worker.js'),
  };
}

export interface LoadServicesOptions {
  appRoot: string;
  fork: ForkHost;
  /** Working directory (relative config paths, the default runs folder `<cwd>/runs`). */
  cwd: string;
}

/** Imports dist/services and creates the services; rejects with a message that says to build when missing. */
export async function loadServices(options: LoadServicesOptions): Promise<Services> {
  const files = appFiles(options.appRoot);
  let mod: { createServices(o: ServicesOptions): Services };
  try {
    mod = (await import(/* @vite-ignore */ pathToFileURL(files.services).href)) as typeof mod;
  } catch (error) {
    throw new Error(
      `cannot load the service layer from ${files.services} (${(error as Error).message}). ` +
        'Build it with `npm run build` in the Dumbo folder.',
      { cause: error },
    );
  }
  return mod.createServices({
    fork: options.fork,
    cwd: options.cwd,
    hostEntry: files.runHost,
    workerEntry: files.worker,
  });
}
