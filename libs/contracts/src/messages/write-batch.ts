import { ErrorCode, NonRetryableWriteError } from '../errors/domain.error';
import { decodeWriteText, isRequestId, type WriteMessage } from './write-message';

/**
 * Version 2 of the write format: many writes in one message, which is how an API's group commit publishes them
 * (`WritePublisher`). The body is newline-delimited JSON: a header line `{"v":2,"writes":n}`, then n lines, each
 * one write exactly as version 1 encodes it alone (`writeMessageText`), with the `replyTo` of a waiting client.
 *
 * One line per write, rather than one JSON array, so that a worker checks each write on its own text: a write that
 * cannot be applied (malformed, or a value keyflow cannot store as sent) is dead-lettered alone, as a version-1
 * message made of its line, and never takes its batch-mates with it.
 */
export const WRITE_BATCH_CONTENT_TYPE = 'application/x-ndjson';

/**
 * One write read from a message: decoded, or the reason it cannot be applied. `text` is its line. A write that
 * cannot be applied still names its request (`requestId`) when its line is JSON that carries one, for the log.
 */
export type DecodedWrite =
  | { ok: true; message: WriteMessage; replyTo?: string; text: string }
  | { ok: false; error: NonRetryableWriteError; text: string; requestId?: string };

/** The body of a batch message from the lines `writeMessageText` made. */
export function encodeWriteBatch(lines: readonly string[]): Buffer {
  return Buffer.from(`{"v":2,"writes":${lines.length}}\n${lines.join('\n')}`, 'utf8');
}

function readLine(text: string): DecodedWrite {
  try {
    return { ok: true, ...decodeWriteText(text), text };
  } catch (err) {
    if (err instanceof NonRetryableWriteError) {
      const requestId = requestIdIn(text);
      return { ok: false, error: err, text, ...(requestId ? { requestId } : {}) };
    }
    throw err;
  }
}

/** The request id of a write that cannot be applied, if its text is a JSON object that carries one (rare path). */
function requestIdIn(text: string): string | undefined {
  try {
    const raw = JSON.parse(text) as { requestId?: unknown } | null;
    return isRequestId(raw?.requestId) ? raw.requestId : undefined;
  } catch {
    return undefined;
  }
}

function unreadable(why: string): NonRetryableWriteError {
  return new NonRetryableWriteError(ErrorCode.MALFORMED_MESSAGE, `unreadable write batch: ${why}`);
}

/**
 * Reads a message of either version: a version-1 body is one write; a version-2 body is its writes, in order. A
 * write that cannot be applied comes back `ok: false` in its place. Throws `NonRetryableWriteError` only when the
 * message as a whole cannot be read (no header, or fewer or more lines than it announces: a truncated batch is not
 * applied in part).
 */
export function decodeWrites(body: Buffer): DecodedWrite[] {
  const text = body.toString('utf8');
  const newline = text.indexOf('\n');
  if (newline < 0) return [readLine(text)];
  let header: unknown;
  try {
    header = JSON.parse(text.slice(0, newline));
  } catch {
    throw unreadable('the first line is not JSON');
  }
  const announced = (header as { v?: unknown; writes?: unknown } | null) ?? {};
  if (announced.v !== 2 || !Number.isSafeInteger(announced.writes)) {
    throw unreadable('the first line is not a version 2 header {"v":2,"writes":n}');
  }
  const lines = text.slice(newline + 1).split('\n');
  if (lines.length !== announced.writes) {
    throw unreadable(`the header announces ${String(announced.writes)} writes and the body has ${lines.length}`);
  }
  return lines.map(readLine);
}
