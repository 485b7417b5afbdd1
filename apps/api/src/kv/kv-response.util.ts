import type { KvRead } from './kv.service';

/**
 * Builds the GET body by hand: the value is already JSON text (from Redis or `value::TEXT`), so parsing and
 * re-serialising it would only cost time on the hottest path.
 */
export function entryBody(read: KvRead): string {
  return `{"key":${JSON.stringify(read.key)},"value":${read.valueJson},"version":${read.version},"updatedAt":${JSON.stringify(read.updatedAt)}${expiresAtMember(read)}}`;
}

/** `,"expiresAt":"…"` for a key written with a time to live, nothing otherwise (for the GET bodies built by hand). */
export function expiresAtMember(read: Pick<KvRead, 'expiresAt'>): string {
  return read.expiresAt ? `,"expiresAt":${JSON.stringify(read.expiresAt)}` : '';
}

export function etag(version: number): string {
  return `"${version}"`;
}
