import { describeInvalidKey, DomainError, ErrorCode } from '@keyflow/contracts';

/** Page size of `GET /v1/kv` when `limit` is not given, and the largest one allowed. */
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1_000;

export interface ListQuery {
  prefix: string;
  limit: number;
  /** Where the page starts: after this key (from the cursor). */
  after?: string;
  keysOnly: boolean;
  strong: boolean;
}

const PARAMETERS = new Set(['prefix', 'limit', 'cursor', 'keysOnly', 'consistency']);
/** A cursor holds one key of at most 512 bytes and the prefix: far below this once encoded. */
const MAX_CURSOR_LENGTH = 4_096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface CursorBody {
  v: 1;
  /** The prefix the cursor was made for: a cursor only continues its own listing. */
  p: string;
  /** The last key of the page it follows. */
  k: string;
}

/**
 * The opaque `cursor` of `GET /v1/kv`: base64url of `{"v":1,"p":<prefix>,"k":<last key of the page>}`. It holds
 * a position, not a snapshot: the next page is simply the keys after `k`, which is what keeps paging exactly-once
 * for every key that exists throughout (`KvListRepository`). It is not signed: whatever a client changes it to can
 * only move where its own listing continues, so `decodeCursor` checks that it is well-formed and belongs to the
 * listing, and answers 400 otherwise.
 */
export function encodeCursor(prefix: string, lastKey: string): string {
  const body: CursorBody = { v: 1, p: prefix, k: lastKey };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** The key a cursor continues after; throws 400 `invalid-request` for anything that is not a cursor of this prefix. */
export function decodeCursor(cursor: string, prefix: string): string {
  const refuse = (why: string) =>
    new DomainError(
      ErrorCode.INVALID_REQUEST,
      `cursor is not valid: ${why}; pass the cursor of the previous page unchanged, or none for the first page`,
    );
  if (cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) throw refuse('it is not a cursor keyflow made');
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(cursor, 'base64url')));
  } catch {
    throw refuse('it is not a cursor keyflow made');
  }
  const { v, p, k } = (typeof body === 'object' && body !== null ? body : {}) as Partial<Record<string, unknown>>;
  if (v !== 1 || typeof p !== 'string' || typeof k !== 'string' || describeInvalidKey(k) !== undefined) {
    throw refuse('it is not a cursor keyflow made');
  }
  if (p !== prefix || !k.startsWith(prefix)) throw refuse('it belongs to a listing of another prefix');
  return k;
}

/**
 * The query of `GET /v1/kv`, checked: `prefix` (default: every key), `limit` 1–1000 (default 100), `cursor`,
 * `keysOnly` (`true`/`false`), `consistency` (`eventual`/`strong`). Anything else, or a parameter given twice, is a
 * 400: a listing silently unlike the one asked for is worse than an error.
 */
export function parseListQuery(query: Record<string, unknown>): ListQuery {
  const unknown = Object.keys(query).filter((name) => !PARAMETERS.has(name));
  if (unknown.length > 0) {
    throw invalid(`unknown query parameter ${unknown[0] ?? ''}: the listing takes ${[...PARAMETERS].join(', ')}`);
  }
  const one = (name: string): string | undefined => {
    const value = query[name];
    if (value === undefined || typeof value === 'string') return value;
    throw invalid(`${name} must be given once`);
  };

  const prefix = one('prefix') ?? '';
  if (prefix !== '') {
    const problem = describeInvalidKey(prefix);
    if (problem) throw invalid(`prefix: ${problem.replace('the key', 'the prefix')}`);
  }

  const limitText = one('limit');
  let limit = DEFAULT_LIST_LIMIT;
  if (limitText !== undefined) {
    limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
      throw invalid(`limit must be a whole number from 1 to ${MAX_LIST_LIMIT}; got ${JSON.stringify(limitText)}`);
    }
  }

  const keysOnly = one('keysOnly');
  if (keysOnly !== undefined && keysOnly !== 'true' && keysOnly !== 'false') {
    throw invalid('keysOnly must be true or false');
  }
  const consistency = one('consistency');
  if (consistency !== undefined && consistency !== 'eventual' && consistency !== 'strong') {
    throw invalid('consistency must be eventual or strong');
  }
  const cursor = one('cursor');
  return {
    prefix,
    limit,
    ...(cursor !== undefined ? { after: decodeCursor(cursor, prefix) } : {}),
    keysOnly: keysOnly === 'true',
    strong: consistency === 'strong',
  };
}

function invalid(detail: string): DomainError {
  return new DomainError(ErrorCode.INVALID_REQUEST, detail);
}
