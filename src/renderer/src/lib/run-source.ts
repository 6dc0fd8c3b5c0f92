/**
 * Which config a run came from, in words for the run panel: its file's name, and whether the run used the
 * file as saved, its unsaved edits, or text with no file — and whether that is not what the editor shows
 * (after reopening the page, the editor opens file X while the live run came from Y).
 */

import type { RunSummary } from '../../../shared/api.js';

export interface RunSourceLabel {
  /** `quickstart.yaml`, `quickstart.yaml (edited, unsaved)`, `untitled (never saved)`. */
  text: string;
  /** The full path, for a tooltip. */
  title: string;
  /** The editor shows another config than the run's. */
  differs: boolean;
}

const baseName = (file: string) => file.split(/[\\/]/).pop() || file;

/**
 * `editor`: the config the editor shows — its file (`path`, '' when untitled) and the file an untitled copy
 * was made from (`copiedFrom`).
 */
export function runSourceLabel(
  run: Pick<RunSummary, 'configFile' | 'configSource'>,
  editor: { path: string; copiedFrom: string },
): RunSourceLabel {
  const name = baseName(run.configFile);
  const text =
    run.configSource === 'untitled'
      ? 'untitled (never saved)'
      : run.configSource === 'edited'
        ? `${name} (edited, unsaved)`
        : name;
  const editorFile = editor.path || editor.copiedFrom;
  // An untitled run is the editor's when the editor holds an untitled config too (the text may differ: it
  // is still the same "file" as far as the user can tell them apart).
  const same =
    run.configSource === 'untitled' && !editor.copiedFrom ? editor.path === '' : run.configFile === editorFile;
  return { text, title: run.configFile, differs: !same };
}
