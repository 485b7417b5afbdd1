import { describeUnstorableJson } from '../kv/json-text.util';
import { describeInvalidKey, serialiseValue } from '../kv/key.util';
import { MAX_VALUE_BYTES } from '../kv/kv.constant';

/**
 * One line of a keyflow backup (`GET /v1/backup`, `keyflow export`): a live key as it was stored. `expiresAt` only
 * for a key with a time to live. A backup file is these lines, one per key, as NDJSON; restoring one reproduces the
 * same GET answers, versions included.
 */
export interface BackupEntry {
  key: string;
  value: unknown;
  version: number;
  updatedAt: string;
  expiresAt?: string;
}

/** The members a backup line has, in the order `GET /v1/backup` writes them. */
const MEMBERS = new Set(['key', 'value', 'version', 'updatedAt', 'expiresAt']);

/** An RFC 3339 timestamp with a zone, as `Date.prototype.toISOString` writes them (fractions of any length). */
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

function describeTimestamp(name: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || !TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
    return `${name} must be an ISO 8601 timestamp such as "2026-11-23T10:15:30.123Z"`;
  }
  return undefined;
}

/**
 * Reads one backup line, or says what is wrong with it (without a line number: callers know which line it is).
 * A line is refused unless restoring it would store exactly what it says: the same checks as a `PUT` (the key, the
 * value's size and what JSONB can hold faithfully), a version of at least 1, timestamps, and no member but the five
 * of `BackupEntry`. The text is scanned before it is parsed, so a hostile line never reaches a recursive parser.
 */
export function parseBackupLine(text: string): { entry: BackupEntry } | { problem: string } {
  if (text.trim() === '') return { problem: 'the line is empty; every line must be one key as a JSON object' };
  const unstorable = describeUnstorableJson(text, { envelope: 1 });
  if (unstorable) return { problem: unstorable };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { problem: `the line is not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { problem: 'the line must be a JSON object {"key","value","version","updatedAt","expiresAt"?}' };
  }
  const line = parsed as Record<string, unknown>;
  const unknown = Object.keys(line).find((name) => !MEMBERS.has(name));
  if (unknown !== undefined) return { problem: `unknown member ${JSON.stringify(unknown)}` };
  if (typeof line.key !== 'string') return { problem: 'key must be a string' };
  const badKey = describeInvalidKey(line.key);
  if (badKey) return { problem: badKey };
  if (!('value' in line)) return { problem: 'value is missing (any JSON, null included)' };
  const serialised = serialiseValue(line.value);
  if ('tooLarge' in serialised) {
    return { problem: `the value is ${serialised.tooLarge} bytes of JSON; the limit is ${MAX_VALUE_BYTES} (1 MiB)` };
  }
  if (typeof line.version !== 'number' || !Number.isSafeInteger(line.version) || line.version < 1) {
    return { problem: 'version must be an integer of at least 1' };
  }
  const badTime = describeTimestamp('updatedAt', line.updatedAt);
  if (badTime) return { problem: badTime };
  if ('expiresAt' in line) {
    const badExpiry = describeTimestamp('expiresAt', line.expiresAt);
    if (badExpiry) return { problem: badExpiry };
  }
  return {
    entry: {
      key: line.key,
      value: line.value,
      version: line.version,
      updatedAt: line.updatedAt as string,
      ...('expiresAt' in line ? { expiresAt: line.expiresAt as string } : {}),
    },
  };
}

/**
 * One backup line, written by hand around the value's JSON text as the database returned it, so the value is exactly
 * as stored (never parsed and re-serialised on the way out).
 */
export function backupLineText(entry: {
  key: string;
  valueJson: string;
  version: number;
  updatedAt: string;
  expiresAt?: string | null;
}): string {
  const expiry = entry.expiresAt ? `,"expiresAt":${JSON.stringify(entry.expiresAt)}` : '';
  return `{"key":${JSON.stringify(entry.key)},"value":${entry.valueJson},"version":${entry.version},"updatedAt":${JSON.stringify(entry.updatedAt)}${expiry}}`;
}

/** The media type of a backup: newline-delimited JSON, one `BackupEntry` a line. */
export const BACKUP_CONTENT_TYPE = 'application/x-ndjson';
/** `GET /v1/backup` sends how many lines its snapshot holds before the first one, so a client sees a cut-off stream. */
export const BACKUP_KEYS_HEADER = 'x-keyflow-backup-keys';
/** When the snapshot `GET /v1/backup` streams was taken (the database's clock). */
export const BACKUP_SNAPSHOT_HEADER = 'x-keyflow-backup-snapshot';
/**
 * The most a `POST /v1/backup/restore` body may hold: the gateways' `client_max_body_size` (2 MiB). One line with the
 * largest value fits (1 MiB of compact JSON is at most 1.5 MiB as JSONB prints it: `[1,1]` becomes `[1, 1]`).
 */
export const MAX_RESTORE_BODY_BYTES = 2 * 1024 * 1024;
