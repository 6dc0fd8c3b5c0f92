// The main window's size and place, kept in the settings (Settings.windowBounds) so the app opens where it
// was left. Pure logic over the few members of BrowserWindow and screen it uses; no `electron` import.

export interface Bounds {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const DEFAULT_SIZE = { width: 1200, height: 800 } as const;
const MIN_SIZE = { width: 480, height: 320 } as const;

/**
 * The saved bounds when they are usable: at least the minimum size and at least partly (100 × 50 px, enough
 * to grab the title bar) on one of today's displays. A display unplugged since, or a broken value, gives
 * undefined, and the window opens at the default size.
 */
export function restorableBounds(saved: Bounds | undefined, workAreas: readonly Bounds[]): Bounds | undefined {
  if (!saved || !['x', 'y', 'width', 'height'].every((k) => Number.isFinite(saved[k as keyof Bounds]))) {
    return undefined;
  }
  if (saved.width < MIN_SIZE.width || saved.height < MIN_SIZE.height) return undefined;
  const visible = workAreas.some((area) => {
    const w = Math.min(saved.x + saved.width, area.x + area.width) - Math.max(saved.x, area.x);
    const h = Math.min(saved.y + saved.height, area.y + area.height) - Math.max(saved.y, area.y);
    return w >= 100 && h >= 50;
  });
  return visible ? { ...saved } : undefined;
}

/** The part of BrowserWindow that is tracked. */
export interface TrackedWindow {
  on(event: 'resize' | 'move' | 'close', listener: () => void): unknown;
  getNormalBounds(): Bounds;
  isDestroyed(): boolean;
}

/**
 * Saves the window's normal (not maximized) bounds a moment after it is moved or resized, and at once when
 * it closes.
 */
export function trackBounds(win: TrackedWindow, save: (bounds: Bounds) => void, delayMs = 500): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const saveNow = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!win.isDestroyed()) save(win.getNormalBounds());
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(saveNow, delayMs);
  };
  win.on('resize', later);
  win.on('move', later);
  win.on('close', saveNow);
}
