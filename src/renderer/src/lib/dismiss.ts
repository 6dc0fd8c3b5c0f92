/**
 * What a popover or drawer needs to behave as one: Escape closes it, and so does a press outside it; while
 * it is open, Tab and Shift+Tab cycle through its controls instead of leaving it (a modal drawer).
 */

/** Calls `close` on Escape anywhere and on a pointer press outside `inside()`; returns the remover. */
export function onDismiss(
  inside: () => readonly (HTMLElement | undefined)[],
  close: (by: 'escape' | 'outside') => void,
): () => void {
  const key = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && !event.defaultPrevented) close('escape');
  };
  const press = (event: PointerEvent) => {
    const target = event.target as Node | null;
    if (target && !inside().some((el) => el?.contains(target))) close('outside');
  };
  document.addEventListener('keydown', key);
  document.addEventListener('pointerdown', press);
  return () => {
    document.removeEventListener('keydown', key);
    document.removeEventListener('pointerdown', press);
  };
}

const FOCUSABLE = 'button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])';

/** The controls of `container` a user can reach with Tab (enabled, shown), in document order. */
export function focusables(container: HTMLElement): HTMLElement[] {
  return [...container.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (el) => !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0,
  );
}

/** Keeps Tab inside `container`: from its last control to its first, and Shift+Tab the other way. */
export function trapTab(event: KeyboardEvent, container: HTMLElement): void {
  // A dialog inside this one (the trust dialog in the plugin drawer) has kept Tab to itself already.
  if (event.key !== 'Tab' || event.defaultPrevented) return;
  const all = focusables(container);
  const first = all[0];
  const last = all[all.length - 1];
  if (!first || !last) return;
  const active = document.activeElement;
  if (event.shiftKey && (active === first || !container.contains(active))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (active === last || !container.contains(active))) {
    event.preventDefault();
    first.focus();
  }
}
