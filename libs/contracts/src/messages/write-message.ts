import { describeInvalidKey } from '../kv/key.util';
import { OPERATION_TYPES, type OperationType } from '../kv/kv.constant';
import { DomainError, ErrorCode } from '../errors/domain.error';

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
  acceptedAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeWriteMessage(message: WriteMessage): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

/** Parses and checks a message body; throws `DomainError(MALFORMED_MESSAGE)` naming what is wrong. */
export function decodeWriteMessage(body: Buffer): WriteMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new DomainError(ErrorCode.MALFORMED_MESSAGE, 'the message body is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DomainError(ErrorCode.MALFORMED_MESSAGE, 'the message body is not a JSON object');
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
  if (typeof m.acceptedAt !== 'string' || Number.isNaN(Date.parse(m.acceptedAt))) {
    problems.push('acceptedAt must be an ISO timestamp');
  }
  if (problems.length) {
    throw new DomainError(ErrorCode.MALFORMED_MESSAGE, `malformed write message: ${problems.join('; ')}`, {
      operationId: typeof m.id === 'string' && UUID.test(m.id) ? m.id : undefined,
      key: typeof m.key === 'string' ? m.key : undefined,
      type: m.type === 'delete' ? 'delete' : 'put',
      acceptedAt: typeof m.acceptedAt === 'string' && !Number.isNaN(Date.parse(m.acceptedAt)) ? m.acceptedAt : undefined,
    });
  }
  return m as unknown as WriteMessage;
}
