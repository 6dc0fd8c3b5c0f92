import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { menuTemplate, type MenuActions, type MenuEntry } from '../../src/main/menu.js';
import { restorableBounds, trackBounds, type Bounds } from '../../src/main/window-state.js';

const screen: Bounds[] = [{ x: 0, y: 0, width: 1920, height: 1080 }];

describe('main: the window opens where it was left', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('restores saved bounds that are on a display, and not those of an unplugged display or broken ones', () => {
    expect(restorableBounds({ x: 100, y: 50, width: 1000, height: 700 }, screen)).toEqual({
      x: 100,
      y: 50,
      width: 1000,
      height: 700,
    });
    expect(restorableBounds({ x: 3000, y: 50, width: 1000, height: 700 }, screen)).toBeUndefined();
    expect(restorableBounds({ x: 0, y: 0, width: 100, height: 100 }, screen)).toBeUndefined();
    expect(restorableBounds({ x: NaN, y: 0, width: 1000, height: 700 }, screen)).toBeUndefined();
    expect(restorableBounds(undefined, screen)).toBeUndefined();
  });

  it('saves the bounds a moment after a move or resize, and at once on close', () => {
    vi.useFakeTimers();
    const win = Object.assign(new EventEmitter(), {
      bounds: { x: 1, y: 2, width: 800, height: 600 },
      getNormalBounds() {
        return this.bounds;
      },
      isDestroyed: () => false,
    });
    const save = vi.fn();
    trackBounds(win, save, 500);
    win.emit('resize');
    win.emit('move');
    expect(save).not.toHaveBeenCalled();
    vi.advanceTimersByTime(500);
    expect(save).toHaveBeenCalledTimes(1);
    win.bounds = { x: 5, y: 5, width: 900, height: 650 };
    win.emit('move');
    win.emit('close');
    expect(save).toHaveBeenLastCalledWith({ x: 5, y: 5, width: 900, height: 650 });
    vi.advanceTimersByTime(1000);
    expect(save).toHaveBeenCalledTimes(2);
  });
});

describe('main: the application menu', () => {
  const actions = () => ({
    openConfig: vi.fn<MenuActions['openConfig']>(),
    saveConfig: vi.fn<MenuActions['saveConfig']>(),
    openExample: vi.fn<MenuActions['openExample']>(),
    showView: vi.fn<MenuActions['showView']>(),
    openDocs: vi.fn<MenuActions['openDocs']>(),
  });
  const find = (entries: MenuEntry[], ...labels: string[]): MenuEntry => {
    let entry: MenuEntry | undefined;
    let list = entries;
    for (const label of labels) {
      entry = list.find((e) => e.label === label);
      if (!entry) throw new Error(`no menu entry ${labels.join(' > ')}`);
      list = entry.submenu ?? [];
    }
    return entry!;
  };

  it('has File (Open config, Save, Examples), View (Workbench, Runs) and Help (Docs) wired to the actions', () => {
    const a = actions();
    const examples = [{ name: 'quickstart', path: '/r/examples/quickstart.yaml', description: 'q', text: 'name: q\n' }];
    const menu = menuTemplate(a, { examples, platform: 'linux', dev: false });
    expect(menu.map((e) => e.label ?? e.role)).toEqual(['File', 'editMenu', 'View', 'Help']);
    find(menu, 'File', 'Open Config…').click!();
    find(menu, 'File', 'Save').click!();
    find(menu, 'File', 'Examples', 'quickstart').click!();
    find(menu, 'View', 'Workbench').click!();
    find(menu, 'View', 'Runs').click!();
    find(menu, 'Help', 'Docs').click!();
    expect(a.openConfig).toHaveBeenCalledOnce();
    expect(a.saveConfig).toHaveBeenCalledOnce();
    expect(a.openExample).toHaveBeenCalledWith('/r/examples/quickstart.yaml');
    expect(a.showView.mock.calls).toEqual([['workbench'], ['runs']]);
    expect(a.openDocs).toHaveBeenCalledOnce();
    expect(find(menu, 'File', 'Open Config…').accelerator).toBe('CmdOrCtrl+O');
    expect(find(menu, 'File', 'Save').accelerator).toBe('CmdOrCtrl+S');
    // Developer tools only in development builds.
    expect(JSON.stringify(menu)).not.toContain('toggleDevTools');
    expect(JSON.stringify(menuTemplate(a, { examples, platform: 'linux', dev: true }))).toContain('toggleDevTools');
  });

  it('on macOS adds the app and window menus', () => {
    const menu = menuTemplate(actions(), { examples: [], platform: 'darwin', dev: false });
    expect(menu.map((e) => e.label ?? e.role)).toEqual(['appMenu', 'File', 'editMenu', 'View', 'windowMenu', 'Help']);
    expect(find(menu, 'File', 'Examples').submenu).toEqual([{ label: 'No examples found', enabled: false }]);
  });
});
