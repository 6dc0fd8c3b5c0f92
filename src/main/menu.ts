// The application menu, as a template (Electron's MenuItemConstructorOptions, the members we use): File
// (Open config, Save, Examples), Edit (the standard roles, so copy and paste work in the editor on macOS),
// View (Workbench, Runs), Help (Docs). The actions are passed in; index.ts turns them into dialogs and
// MenuCommands for the page. No `electron` import, so the template is tested without Electron.

import type { Example } from '../shared/api.js';

export interface MenuEntry {
  label?: string;
  role?:
    | 'appMenu'
    | 'editMenu'
    | 'windowMenu'
    | 'quit'
    | 'close'
    | 'reload'
    | 'toggleDevTools'
    | 'resetZoom'
    | 'zoomIn'
    | 'zoomOut'
    | 'togglefullscreen';
  type?: 'normal' | 'separator' | 'submenu';
  accelerator?: string;
  enabled?: boolean;
  click?: () => void;
  submenu?: MenuEntry[];
}

export interface MenuActions {
  /** File > Open config…: a file dialog, then the page opens the file. */
  openConfig(): void;
  saveConfig(): void;
  openExample(path: string): void;
  showView(view: 'workbench' | 'runs'): void;
  openDocs(): void;
}

export interface MenuOptions {
  examples: readonly Example[];
  platform: NodeJS.Platform;
  /** Development build: Reload and Developer Tools in View. */
  dev: boolean;
}

export function menuTemplate(actions: MenuActions, options: MenuOptions): MenuEntry[] {
  const mac = options.platform === 'darwin';
  const examples: MenuEntry[] =
    options.examples.length > 0
      ? options.examples.map((e) => ({ label: e.name, click: () => actions.openExample(e.path) }))
      : [{ label: 'No examples found', enabled: false }];
  const file: MenuEntry = {
    label: 'File',
    submenu: [
      { label: 'Open Config…', accelerator: 'CmdOrCtrl+O', click: () => actions.openConfig() },
      { label: 'Save', accelerator: 'CmdOrCtrl+S', click: () => actions.saveConfig() },
      { type: 'separator' },
      { label: 'Examples', submenu: examples },
      { type: 'separator' },
      mac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const view: MenuEntry = {
    label: 'View',
    submenu: [
      { label: 'Workbench', accelerator: 'CmdOrCtrl+1', click: () => actions.showView('workbench') },
      { label: 'Runs', accelerator: 'CmdOrCtrl+2', click: () => actions.showView('runs') },
      { type: 'separator' },
      ...(options.dev ? [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }] : []),
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ] as MenuEntry[],
  };
  const help: MenuEntry = { label: 'Help', submenu: [{ label: 'Docs', click: () => actions.openDocs() }] };
  return [
    ...(mac ? [{ role: 'appMenu' } as MenuEntry] : []),
    file,
    { role: 'editMenu' },
    view,
    ...(mac ? [{ role: 'windowMenu' } as MenuEntry] : []),
    help,
  ];
}
