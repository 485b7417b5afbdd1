import { DomainError, ErrorCode, type WriteCondition } from '@keyflow/contracts';

/** Longest `Prefer: wait` honoured; the gateway's read timeout (65 s) stays above it. */
export const MAX_WAIT_SECONDS = 60;

export interface WriteHeaders {
  'if-match'?: string;
  'if-none-match'?: string;
  prefer?: string;
  'idempotency-key'?: string;
}

export interface WriteOptions {
  condition?: WriteCondition;
  /** How long to wait for the outcome (`Prefer: wait=N`), in ms; 0 answers 202 at once. */
  waitMs: number;
  idempotencyKey?: string;
  /** A put's time to live in seconds (the body's `ttl`); a put without it never expires. */
  ttl?: number;
  /**
   * The id of the user making the write: the operation is theirs, and so is its Idempotency-Key (the same key from
   * two users names two requests).
   */
  owner?: string;
  /**
   * The id of the HTTP request (Fastify's `request.id`: the gateway's `X-Request-Id`), carried in the write message so
   * that the worker logs it too. Left out of the message when it is not fit to log (`isRequestId`).
   */
  requestId?: string;
}

const ETAG = /^"(\d{1,15})"$/;
/** Any weak entity tag (RFC 9110 section 8.8.3): `W/` and a quoted opaque tag. */
const WEAK_ETAG = /^W\/"[\x21\x23-\x7e\x80-\xff]*"$/;

function invalid(detail: string): DomainError {
  return new DomainError(ErrorCode.INVALID_REQUEST, detail);
}

/**
 * Reads the write-related headers. Conditions follow RFC 9110 (`If-Match: "3"` or `*`, `If-None-Match: *`),
 * with keyflow's ETags being quoted versions, always strong (a weak `W/"3"` is refused with 412); `Prefer: wait=N` follows RFC 7240 and is capped at 60 s.
 * A malformed header is a 400 — a condition silently ignored would turn a safe write into a blind one.
 */
export function parseWriteHeaders(headers: WriteHeaders): WriteOptions {
  const ifMatch = headers['if-match']?.trim();
  const ifNoneMatch = headers['if-none-match']?.trim();
  if (ifMatch !== undefined && ifNoneMatch !== undefined) throw invalid('send If-Match or If-None-Match, not both');

  let condition: WriteCondition | undefined;
  if (ifMatch !== undefined) {
    if (ifMatch === '*') condition = { kind: 'exists' };
    else {
      // If-Match compares strongly (RFC 9110 section 13.1.1): a weak tag matches no representation, so the
      // condition is false and the answer is 412 at once. Nothing is accepted, and the client learns that
      // the tag it sent (perhaps rewritten by a proxy) can never make the write happen.
      if (WEAK_ETAG.test(ifMatch)) {
        throw new DomainError(
          ErrorCode.PRECONDITION_FAILED,
          `If-Match: ${ifMatch} is a weak entity tag, which never matches: If-Match compares strongly ` +
            '(RFC 9110 section 13.1.1); send the version as a strong tag, such as "3"',
        );
      }
      const match = ETAG.exec(ifMatch);
      if (!match) throw invalid('If-Match must be * or one ETag such as "3" (the quoted version)');
      condition = { kind: 'version', version: Number(match[1]) };
    }
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch !== '*')
      throw invalid('If-None-Match on a write must be * (create only if the key does not exist)');
    condition = { kind: 'absent' };
  }

  let waitMs = 0;
  const wait = /(?:^|[,;\s])wait\s*=\s*"?(\d+)"?/i.exec(headers.prefer ?? '');
  if (wait) waitMs = Math.min(Number(wait[1]), MAX_WAIT_SECONDS) * 1_000;

  const idempotencyKey = headers['idempotency-key'];
  if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
    throw invalid('Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  return { ...(condition ? { condition } : {}), waitMs, ...(idempotencyKey ? { idempotencyKey } : {}) };
}
