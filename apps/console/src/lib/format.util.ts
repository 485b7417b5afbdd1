/** How the console shows values, times and problems; pure functions, unit-tested. */

/** A JSON value as the editor and the viewer show it: two-space indentation. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The editor's text as a JSON value, or what is wrong with it (the parser's own words). */
export function parseJsonInput(text: string): Parsed<unknown> {
  if (text.trim() === '') return { ok: false, error: 'enter a JSON value, e.g. {"name": "Ada"}, 42 or "text"' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A TTL field: empty means none (the key never expires); else whole seconds, or a number with s, m, h or d.
 * The API takes whole seconds ≥ 1.
 */
export function parseTtl(text: string): Parsed<number | undefined> {
  const t = text.trim().toLowerCase();
  if (t === '') return { ok: true, value: undefined };
  const m = /^(\d+)\s*([smhd]?)$/.exec(t);
  if (!m) return { ok: false, error: 'TTL: whole seconds, or a number followed by s, m, h or d (e.g. 90, 10m, 2h)' };
  const seconds = Number(m[1]) * (TTL_UNITS[m[2] || 's'] ?? 1);
  if (seconds < 1) return { ok: false, error: 'TTL: at least 1 second (leave it empty for no expiry)' };
  return { ok: true, value: seconds };
}

/** `3 s`, `5 min`, `2 h 5 min`, `3 d 4 h`: a duration the way a person reads it. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** `in 5 min` or `3 s ago`, relative to `now`. */
export function formatRelative(iso: string, now: number): string {
  const delta = Date.parse(iso) - now;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/** A timestamp in the reader's own time zone, to the second, with the relative time after it. */
export function formatTime(iso: string, now: number, locale?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const text = at.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'medium' });
  return `${text} (${formatRelative(iso, now)})`;
}

/** A key's expiry: `never`, or when. */
export function formatExpiry(expiresAt: string | undefined, now: number, locale?: string): string {
  return expiresAt ? formatTime(expiresAt, now, locale) : 'never';
}

/** A value in one line for the list: JSON, cut at `max` characters. */
export function previewJson(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What the console knows of a failed request. */
export interface ProblemLike {
  status: number;
  title: string;
  detail?: string | undefined;
  retryAfterSeconds?: number | undefined;
}

/**
 * The sentence a person sees for a failed request. Logins get their own words: a wrong password says which
 * (without saying whether the user exists), a throttled login says how long to wait.
 */
export function problemMessage(p: ProblemLike, context: 'login' | 'other' = 'other'): string {
  if (p.status === 429) {
    const wait = p.retryAfterSeconds;
    const when = wait !== undefined ? `try again in ${formatDuration(wait * 1000)}` : 'try again later';
    return context === 'login' ? `Too many login attempts: ${when}.` : `Too many requests: ${when}.`;
  }
  if (context === 'login' && p.status === 401) return 'Wrong username or password.';
  if (p.status === 0) return `Cannot reach the service: ${p.detail ?? 'network error'}.`;
  const detail = p.detail ? `: ${p.detail}` : '';
  return `${p.title}${detail} (${p.status})`;
}

/** `Retry-After` in seconds (delta form; an HTTP date is turned into seconds from `now`). */
export function retryAfterSeconds(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
