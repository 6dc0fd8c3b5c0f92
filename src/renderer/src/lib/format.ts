/** How numbers, sizes and times read in the UI. Pure functions; every component formats through them. */

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 2 });
const grouped = new Intl.NumberFormat('en');

/** 141056 → "141.06K"; small counts as they are. */
export function formatCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return Math.abs(n) < 10_000 ? grouped.format(n) : compact.format(n);
}

/** 141056 → "141,056". */
export function formatExact(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : grouped.format(n);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** 3725 → "1 h 2 min"; 75 → "1 min 15 s"; 4.2 → "4.2 s". */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${r} s`;
  return `${r} s`;
}

/** A metric value: four significant digits, scientific when tiny (learning rates). */
export function formatMetric(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/** An ISO time as the user's local date and time. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A count and its noun, singular for one: "1 file", "3 files" (`plural` when not noun + s). */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${formatExact(n)} ${n === 1 ? noun : plural}`;
}

/** The message of anything thrown, for an error shown to the user. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
