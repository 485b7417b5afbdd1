import {
  describeInvalidKey,
  DomainError,
  ErrorCode,
  MAX_VALUE_BYTES,
  serialiseValue,
  type WriteCondition,
} from '@keyflow/contracts';
import { parseWriteHeaders } from './write-preconditions.util';

/** Most operations in one bulk write. */
export const MAX_BULK_OPERATIONS = 1_000;

/** One checked operation of a bulk write: what `KvService.put` / `delete` take for a single write. */
export type BulkOperation =
  | { op: 'put'; key: string; value: unknown; valueJson: string; ttl?: number; condition?: WriteCondition }
  | { op: 'delete'; key: string; condition?: WriteCondition };

const PUT_FIELDS = new Set(['op', 'key', 'value', 'ttl', 'ifMatch']);
const DELETE_FIELDS = new Set(['op', 'key', 'ifMatch']);

/**
 * Checks every operation of a bulk write before any is accepted: all or nothing. The first bad one is refused with
 * the status and the words a single write gets for the same mistake, prefixed with where it is
 * (`operations[7].key: the key is empty; …`): 400 for a bad key, field or condition, 413 for a value over 1 MiB,
 * 412 for a weak `ifMatch`. (Values keyflow cannot store as written never get here: the body parser refuses them,
 * also by index; see `describeUnstorableBulkBody`.)
 */
export function parseBulkOperations(operations: unknown): BulkOperation[] {
  if (!Array.isArray(operations) || operations.length === 0 || operations.length > MAX_BULK_OPERATIONS) {
    throw new DomainError(
      ErrorCode.INVALID_REQUEST,
      `operations must be an array of 1 to ${MAX_BULK_OPERATIONS} operations` +
        (Array.isArray(operations) ? `; it has ${operations.length}` : ''),
    );
  }
  return operations.map((raw, index) => parseOperation(raw, `operations[${index}]`));
}

function parseOperation(raw: unknown, at: string): BulkOperation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(`${at}: an operation must be an object such as {"op":"put","key":…,"value":…}`);
  }
  const o = raw as Record<string, unknown>;
  if (o.op !== 'put' && o.op !== 'delete') throw invalid(`${at}.op: must be put or delete`);
  const allowed = o.op === 'put' ? PUT_FIELDS : DELETE_FIELDS;
  const unknown = Object.keys(o).filter((name) => !allowed.has(name));
  if (unknown.length > 0) {
    throw invalid(
      `${at}.${unknown[0] ?? ''}: a ${o.op} operation takes no such field (it takes ${[...allowed].join(', ')})`,
    );
  }
  if (typeof o.key !== 'string') throw invalid(`${at}.key: must be a string`);
  const keyProblem = describeInvalidKey(o.key);
  if (keyProblem) throw new DomainError(ErrorCode.INVALID_KEY, `${at}.key: ${keyProblem}`);
  const condition = parseIfMatch(o.ifMatch, `${at}.ifMatch`);
  const when = condition ? { condition } : {};
  if (o.op === 'delete') return { op: 'delete', key: o.key, ...when };

  if (!('value' in o) || o.value === undefined) {
    throw invalid(`${at}.value: must be present (any JSON, null included)`);
  }
  const serialised = serialiseValue(o.value);
  if ('tooLarge' in serialised) {
    throw new DomainError(
      ErrorCode.VALUE_TOO_LARGE,
      `${at}.value: the value is ${serialised.tooLarge} bytes of JSON; the limit is ${MAX_VALUE_BYTES} (1 MiB)`,
    );
  }
  let ttl: number | undefined;
  if (o.ttl !== undefined) {
    if (typeof o.ttl !== 'number' || !Number.isSafeInteger(o.ttl) || o.ttl < 1) {
      throw invalid(`${at}.ttl: must be a positive whole number of seconds`);
    }
    ttl = o.ttl;
  }
  return { op: 'put', key: o.key, value: o.value, valueJson: serialised.json, ...(ttl ? { ttl } : {}), ...when };
}

/**
 * `ifMatch` as the `If-Match` header reads it: `"*"` (the key exists), a strong ETag string `"\"3\""`, or simply
 * the version as a number (`3`). A weak tag is refused with 412, as the header is.
 */
function parseIfMatch(ifMatch: unknown, at: string): WriteCondition | undefined {
  if (ifMatch === undefined) return undefined;
  if (typeof ifMatch === 'number') {
    if (!Number.isSafeInteger(ifMatch) || ifMatch < 0) throw invalid(`${at}: a version must be a whole number ≥ 0`);
    return { kind: 'version', version: ifMatch };
  }
  if (typeof ifMatch !== 'string') throw invalid(`${at}: must be a version (3), "*" or an ETag ("\\"3\\"")`);
  try {
    return parseWriteHeaders({ 'if-match': ifMatch }).condition;
  } catch (err) {
    if (err instanceof DomainError && err.code === ErrorCode.PRECONDITION_FAILED) {
      throw new DomainError(ErrorCode.PRECONDITION_FAILED, `${at}: ${err.message}`);
    }
    throw invalid(`${at}: must be a version (3), "*" or an ETag ("\\"3\\"")`);
  }
}

function invalid(detail: string): DomainError {
  return new DomainError(ErrorCode.INVALID_REQUEST, detail);
}
