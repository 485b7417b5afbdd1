import type { KvLastWrite } from '@keyflow/db';
import type { DeadLetter } from './dead-letter.util';
import type { ReplayState } from './replay-store.service';

/** What `replay` does with one dead letter. */
export type ReplayDecision =
  /** Cannot be replayed at all (the worker would reject it as malformed too). */
  | { kind: 'unreadable'; reason: string }
  /** The operation already has an outcome: replaying it could only apply it twice. The letter is removed. */
  | { kind: 'settled'; status: 'applied' | 'conflict'; version: number }
  /** Newer writes would be overwritten; kept in the queue unless `--force`. */
  | { kind: 'refused'; warning: string }
  /** Publish it, to be applied only while its key is at `atVersion` (0: the key never existed); `warning` when forced. */
  | { kind: 'replay'; atVersion: number; warning?: string };

/** A letter of the same key replayed earlier in this run, not necessarily applied yet. */
export interface PendingReplay {
  /** The version the key will be at once the letters replayed so far are applied. */
  version: number;
  /** The latest accepted-at among them. */
  acceptedAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SECOND = 1_000;

function shortValue(json: string | null): string {
  const text = json ?? 'null';
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** "key "k" is at version 7 (value …, written by operation … accepted at …, applied at …)" */
function describeWrite(write: KvLastWrite): string {
  const by =
    write.lastOperationId !== null
      ? `by operation ${write.lastOperationId}${write.lastAcceptedAt !== null ? ` accepted at ${write.lastAcceptedAt}` : ''}, `
      : '';
  return write.deleted
    ? `key ${JSON.stringify(write.key)} was deleted at version ${write.version} (${by}applied at ${write.updatedAt})`
    : `key ${JSON.stringify(write.key)} is at version ${write.version} (value ${shortValue(write.valueJson)}, ${by ? `written ${by}` : ''}applied at ${write.updatedAt})`;
}

/**
 * Why the key's last write comes after the letter in its key's order, or undefined when it does not:
 * - it was accepted at or after the letter (ties count as newer: two writes in one millisecond cannot be told
 *   apart, and refusing is the safe side);
 * - its accepted-at time was not recorded (written before schema 3) and it was applied after the letter was
 *   accepted, so it may be newer;
 * - it was applied after the letter was dead-lettered, so it stood behind the letter in the shard queue, whatever
 *   its accepted-at time says (API clocks may differ). The broker stamps `x-death` in whole seconds, hence a
 *   second of slack. Skipped for a key with a letter replayed earlier in this run: those writes are the run's own.
 */
function newerBecause(
  letter: DeadLetter & { acceptedAt: string },
  write: KvLastWrite,
  pending: boolean,
): string | undefined {
  const accepted = Date.parse(letter.acceptedAt);
  const self = `this dead letter (${letter.type ?? 'write'} accepted at ${letter.acceptedAt})`;
  if (write.lastAcceptedAt !== null && Date.parse(write.lastAcceptedAt) >= accepted) return `newer than ${self}`;
  if (write.lastAcceptedAt === null && Date.parse(write.updatedAt) > accepted) {
    return `applied after ${self} and not recorded with an accepted-at time, so perhaps newer`;
  }
  if (!pending && letter.deadLetteredAt !== undefined) {
    if (Date.parse(write.updatedAt) >= Date.parse(letter.deadLetteredAt) + SECOND) {
      return `applied after ${self} was dead-lettered (at ${letter.deadLetteredAt}), so behind it in its shard queue`;
    }
  }
  return undefined;
}

/**
 * Decides what `npm run dlq -- replay` does with one letter, from the database's view of its operation and key.
 * The order of the checks is the contract:
 * 1. an operation that already has an outcome (its record, or the key says it wrote last) is never replayed:
 *    that is what "never applied twice" needs even after retention pruned the record;
 * 2. a letter older than one of its key replayed earlier in the same run would be applied after it: refused;
 * 3. a key written by something newer than the letter is not overwritten unless `force`, and the warning says
 *    exactly what would be;
 * 4. otherwise it is replayed at the key's current version (or the version the run's earlier replays of the key
 *    will leave), which the worker enforces: anything written in between makes the worker refuse it.
 */
export function decideReplay(
  letter: DeadLetter,
  state: ReplayState,
  options: { force: boolean; pending?: PendingReplay },
): ReplayDecision {
  if (letter.operationId === undefined || !UUID.test(letter.operationId)) {
    return { kind: 'unreadable', reason: 'it has no valid operation id (purge it instead)' };
  }
  if (letter.key === undefined) return { kind: 'unreadable', reason: 'its key is unreadable (purge it instead)' };
  if (letter.type !== 'put' && letter.type !== 'delete') {
    return { kind: 'unreadable', reason: 'its type is neither put nor delete (purge it instead)' };
  }
  if (letter.acceptedAt === undefined) {
    return { kind: 'unreadable', reason: 'its body has no valid acceptedAt (purge it instead)' };
  }
  const { record, lastWrite } = state;
  if (record && record.status !== 'failed') {
    return { kind: 'settled', status: record.status, version: record.version ?? 0 };
  }
  if (lastWrite && lastWrite.lastOperationId === letter.operationId) {
    return { kind: 'settled', status: 'applied', version: lastWrite.version };
  }

  const { force, pending } = options;
  const atVersion = Math.max(pending?.version ?? 0, lastWrite?.version ?? 0);
  let warning: string | undefined;
  if (pending && Date.parse(letter.acceptedAt) < Date.parse(pending.acceptedAt)) {
    warning =
      `a newer dead letter of key ${JSON.stringify(letter.key)} (accepted at ${pending.acceptedAt}) was replayed earlier ` +
      `in this run: replaying this one (${letter.type ?? 'write'} accepted at ${letter.acceptedAt}) after it would overwrite it`;
  } else if (lastWrite) {
    const because = newerBecause({ ...letter, acceptedAt: letter.acceptedAt }, lastWrite, pending !== undefined);
    if (because) {
      warning = `${describeWrite(lastWrite)}, ${because}: replaying it would ${lastWrite.deleted ? 'undo' : 'overwrite'} that`;
    }
  }
  if (warning === undefined) return { kind: 'replay', atVersion };
  return force ? { kind: 'replay', atVersion, warning } : { kind: 'refused', warning };
}
