import { describeUnstorableJson } from '../kv/json-text.util';
import { describeInvalidKey } from '../kv/key.util';
import { OPERATION_TYPES, type OperationType } from '../kv/kv.constant';
import { ErrorCode, NonRetryableWriteError, type WriteFacts } from '../errors/domain.error';

/**
 * A condition checked when the write is applied (not when it is accepted):
 * - `version`: the key exists with exactly this version (`If-Match: "3"`);
 * - `exists`: the key exists (`If-Match: *`);
 * - `absent`: the key does not exist, or is deleted (`If-None-Match: *`).
 */
export type WriteCondition = { kind: 'version'; version: number } | { kind: 'exists' } | { kind: 'absent' };

/**
 * The message an API publishes for one accepted write and a worker applies. Version 1 of the format.
 * `value` is present for `put` only. `id` is the operation id: applying is idempotent by it.
 */
export interface WriteMessage {
  v: 1;
  id: string;
  key: string;
  type: OperationType;
  value?: unknown;
  condition?: WriteCondition;
  acceptedAt: string;
  /** A put with a time to live: when the key expires (ISO timestamp). A put without it clears an earlier expiry. */
  expiresAt?: string;
  /** A delete that a worker published because the key's `expiresAt` passed (watchers see it as `expire`). */
  cause?: WriteCause;
  /**
   * The id of the user whose request made the write: the operation is theirs (`GET /v1/operations/{id}` answers 404
   * to anyone else but an admin). Absent on the writes workers make themselves, and on messages from before v7.
   */
  owner?: string;
  /**
   * The id of the HTTP request that made the write (the gateway's `X-Request-Id`, which the API logs as `reqId`), so
   * that the worker's log line for the write names it too (`npm run logs -- --request <id>`). For logs only: nothing
   * is decided by it. It travels in the write itself, not in an AMQP header, because group commit puts the writes of
   * many requests into one message. Absent on the writes workers make themselves and on older messages; one that is
   * not `isRequestId` is dropped when the write is read, never a reason to refuse the write.
   */
  requestId?: string;
}

/** A request id fit to be carried and logged: 1 to 128 visible ASCII characters (nginx's are 32 hex digits). */
export function isRequestId(id: unknown): id is string {
  return typeof id === 'string' && /^[\x21-\x7e]{1,128}$/.test(id);
}

/** Why a write was made, when not by a client: `expire` is the versioned delete of a key whose TTL ran out. */
export type WriteCause = 'expire';

/** What a worker sends to the `replyTo` queue of a write whose client waits for it (`Prefer: wait`). */
export interface WriteOutcome {
  id: string;
  key: string;
  type: OperationType;
  status: 'applied' | 'conflict' | 'failed';
  /** Applied: the version written. Conflict: the key's current version (0 when it does not exist). */
  version?: number;
  /** True when an applied put created the key (it did not exist, or was deleted). */
  created?: boolean;
  error?: string;
}

function describeBadCondition(condition: { kind?: unknown; version?: unknown } | null | undefined): string | undefined {
  if (condition === undefined) return undefined;
  if (condition?.kind === 'exists' || condition?.kind === 'absent') return undefined;
  const version = typeof condition?.version === 'number' ? condition.version : -1;
  if (condition?.kind === 'version' && Number.isSafeInteger(version) && version >= 0) return undefined;
  return 'condition must be {kind: version, version: n}, {kind: exists} or {kind: absent}';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Serialises a message. `valueJson`, when given, is the put's value already serialised (the API has it from
 * the size check): it is spliced in rather than stringified a second time, which matters for 1 MiB values.
 */
export function encodeWriteMessage(message: WriteMessage, valueJson?: string): Buffer {
  return Buffer.from(writeMessageText(message, valueJson), 'utf8');
}

/**
 * The JSON text of a message (see `encodeWriteMessage`), on one line: `JSON.stringify` escapes every line break, and
 * a spliced `valueJson` is `JSON.stringify` output too. `replyTo`, for a write inside a batch (`encodeWriteBatch`):
 * the queue its waiting client listens on, which a single message carries as an AMQP property instead.
 */
export function writeMessageText(message: WriteMessage, valueJson?: string, replyTo?: string): string {
  const carried = replyTo === undefined ? message : { ...message, replyTo };
  if (valueJson === undefined || message.type !== 'put') return JSON.stringify(carried);
  const { value: _value, ...rest } = carried;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},"value":${valueJson}}`;
}

/**
 * Parses and checks one write: a single-write message's body, or one line of a batch (`decodeWrites`), with the
 * `replyTo` a line carries. Throws `NonRetryableWriteError` naming what is wrong: `MALFORMED_MESSAGE` for a
 * body that is not a valid write, `INVALID_VALUE` for a put whose value keyflow cannot store as it was sent (what the
 * API refuses with 400: `describeUnstorableJson`). The API checks values before it accepts them; the worker checks
 * again because a queue may still hold messages published before that check existed, and an operator may replay
 * any letter. Such a value would otherwise be stored changed (`1e999999` as `null`) or fail in the database.
 */
export function decodeWriteText(text: string): { message: WriteMessage; replyTo?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new NonRetryableWriteError(ErrorCode.MALFORMED_MESSAGE, 'the message body is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new NonRetryableWriteError(ErrorCode.MALFORMED_MESSAGE, 'the message body is not a JSON object');
  }
  const m = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (m.v !== 1) problems.push(`unsupported format version ${JSON.stringify(m.v)}`);
  if (typeof m.id !== 'string' || !UUID.test(m.id)) problems.push('id must be a UUID');
  if (typeof m.key !== 'string') problems.push('key must be a string');
  else {
    const keyProblem = describeInvalidKey(m.key);
    if (keyProblem) problems.push(keyProblem);
  }
  if (typeof m.type !== 'string' || !(OPERATION_TYPES as readonly string[]).includes(m.type)) {
    problems.push('type must be put or delete');
  }
  if (m.type === 'put' && !('value' in m)) problems.push('a put needs a value');
  const badCondition = describeBadCondition(m.condition as { kind?: unknown; version?: unknown } | null | undefined);
  if (badCondition) problems.push(badCondition);
  if (typeof m.acceptedAt !== 'string' || Number.isNaN(Date.parse(m.acceptedAt))) {
    problems.push('acceptedAt must be an ISO timestamp');
  }
  if (
    'expiresAt' in m &&
    (m.type !== 'put' || typeof m.expiresAt !== 'string' || Number.isNaN(Date.parse(m.expiresAt)))
  ) {
    problems.push('expiresAt must be an ISO timestamp, on a put');
  }
  if ('cause' in m && (m.type !== 'delete' || m.cause !== 'expire')) problems.push('cause must be expire, on a delete');
  if ('owner' in m && (typeof m.owner !== 'string' || !UUID.test(m.owner))) problems.push('owner must be a UUID');
  const details: WriteFacts = {
    operationId: typeof m.id === 'string' && UUID.test(m.id) ? m.id : undefined,
    key: typeof m.key === 'string' ? m.key : undefined,
    type: m.type === 'delete' ? 'delete' : 'put',
    acceptedAt: typeof m.acceptedAt === 'string' && !Number.isNaN(Date.parse(m.acceptedAt)) ? m.acceptedAt : undefined,
  };
  if (problems.length) {
    throw new NonRetryableWriteError(
      ErrorCode.MALFORMED_MESSAGE,
      `malformed write message: ${problems.join('; ')}`,
      details,
    );
  }
  // The text is checked, not the parsed value: the parser already turned 1e999999 into Infinity. The message is the
  // value's envelope (one object deep), as the request body `{"value": …}` is for the API's check.
  const unstorable = describeUnstorableJson(text, { envelope: 1 });
  if (unstorable) {
    throw new NonRetryableWriteError(
      ErrorCode.INVALID_VALUE,
      `the write cannot be stored as sent: ${unstorable}`,
      details,
    );
  }
  // A request id is for logs: one that is not fit to log is left out rather than failing the write.
  const { replyTo, ...write } = m;
  if ('requestId' in write && !isRequestId(write.requestId)) delete write.requestId;
  return { message: write as unknown as WriteMessage, ...(typeof replyTo === 'string' ? { replyTo } : {}) };
}
