// electron-builder.yml, read as electron-builder reads it: it fits electron-builder's own configuration schema,
// the Electron version it downloads matches the one package.json pins, the app's entry and folders are in,
// what must live on disk is unpacked, and the fuses close the doors the app does not use.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../helpers.js';

interface BuilderConfig {
  electronVersion: string;
  extraMetadata: { main: string };
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  extraResources: { from: string; to: string }[];
  linux: { target: string[]; files: string[] };
  mac: { target: string[]; files: string[] };
  win: { target: string[]; files: string[] };
  electronFuses: Record<string, boolean>;
}

const config = parse(readFileSync(path.join(repoRoot, 'electron-builder.yml'), 'utf8')) as BuilderConfig;
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  optionalDependencies: Record<string, string>;
};

let validateBuilderConfig: ValidateFunction | undefined;
/**
 * The schema electron-builder validates its configuration with (app-builder-lib/scheme.json, compiled with the
 * options of its schemaValidator.js), resolved from the electron-builder that package.json pins. One line per
 * error; none when `data` fits.
 */
function builderSchemaErrors(data: unknown): string[] {
  if (!validateBuilderConfig) {
    const fromBuilder = createRequire(createRequire(import.meta.url).resolve('electron-builder/package.json'));
    const schemaFile = fromBuilder.resolve('app-builder-lib/scheme.json');
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as object;
    validateBuilderConfig = new Ajv({ allErrors: true, coerceTypes: true, strict: false }).compile(schema);
  }
  const validate = validateBuilderConfig;
  // coerceTypes mutates: validate a copy.
  if (validate(structuredClone(data))) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`,
  );
}

describe('packaging: electron-builder.yml', () => {
  it("fits electron-builder's configuration schema (a misspelled or misplaced key fails here)", () => {
    expect(builderSchemaErrors(config)).toEqual([]);
  });

  it('flips the fuses: no ELECTRON_RUN_AS_NODE, NODE_OPTIONS or --inspect; the app only from a verified app.asar', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    // A misspelled fuse fails the schema check: in `npm test`, not first when someone packages the app.
    const misspelled = {
      ...config,
      electronFuses: { ...config.electronFuses, enableNodeOptionEnvironmentVariable: false },
    };
    expect(builderSchemaErrors(misspelled)).toContainEqual(
      '/electronFuses must NOT have additional properties {"additionalProperty":"enableNodeOptionEnvironmentVariable"}',
    );
    // onlyLoadAppFromAsar and the integrity check need the app in an archive.
    expect(config.asar).toBe(true);
  });

  it("downloads the Electron that package.json pins (electron is optional, so electron-builder can't read it)", () => {
    expect(config.electronVersion).toBe(pkg.optionalDependencies['electron']);
  });

  it('starts out/main and packs the app, the services, the plugins and the resources', () => {
    expect(config.extraMetadata.main).toBe('out/main/index.js');
    for (const folder of ['out/**', 'dist/**', 'plugins/**', 'resources/**']) expect(config.files).toContain(folder);
    expect(config.files).toContain('!node_modules/electron{,/**}');
    expect(config.extraResources).toContainEqual({ from: 'docs', to: 'docs' });
  });

  it('unpacks native modules, executables and the plugins from the archive', () => {
    expect(config.asar).toBe(true);
    for (const pattern of ['plugins/**', '**/*.node', 'node_modules/@esbuild/**', 'node_modules/nodejs-polars*/**']) {
      expect(config.asarUnpack).toContain(pattern);
    }
  });

  it("unpacks Dawn (WebGPU) for the run host, and ships only the platform's own build of it", () => {
    expect(config.asarUnpack).toContain('node_modules/webgpu/dist/**');
    const builds = readdirSync(path.join(repoRoot, 'node_modules', 'webgpu', 'dist')).sort();
    expect(builds).toEqual(['darwin-universal', 'linux-arm64', 'linux-x64', 'win32-arm64', 'win32-x64']);
    const excluded = (files: string[]) => {
      const m = /^!node_modules\/webgpu\/dist\/\{(.*)\}\{,\/\*\*\}$/.exec(
        files.find((f) => f.includes('webgpu')) ?? '',
      );
      return m ? m[1]!.split(',') : [];
    };
    const kept = (files: string[]) => builds.filter((b) => !excluded(files).includes(b));
    expect(kept(config.linux.files)).toEqual(['linux-arm64', 'linux-x64']);
    expect(kept(config.mac.files)).toEqual(['darwin-universal']);
    expect(kept(config.win.files)).toEqual(['win32-arm64', 'win32-x64']);
  });

  it('targets AppImage and deb, dmg, nsis; `npm run dist:app` builds first', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.win.target).toEqual(['nsis']);
    expect(pkg.scripts['dist:app']).toMatch(/build\.mjs && .*electron-vite\.mjs build && electron-builder/);
  });
});
