import type { Pool, PoolClient } from 'pg';
import { hasExpired, type OperationType, type WriteCause, type WriteCondition } from '@keyflow/contracts';
import { withTransaction, type TransactionOptions } from '../transaction.util';
import { RECORD_OPERATIONS, SELECT_OPERATIONS_BY_ID } from '../operations/operation.sql';
import { compactedTombstonesOf, keyHash } from './compacted-tombstone.util';
import {
  DELETE_COMPACTED_TOMBSTONES,
  DELETE_TOMBSTONES,
  recordCompactedTombstones,
  SELECT_COMPACTABLE_TOMBSTONES,
  SELECT_COMPACTED_TOMBSTONES,
  SELECT_ENTRIES_FOR_UPDATE,
  SELECT_ENTRY,
  SELECT_EXPIRED,
  SELECT_LAST_WRITE,
  UPSERT_ENTRIES,
} from './kv.sql';
import { replayRefusal } from './replay-guard.util';

/**
 * A key's state in the database. `valueJson` is the value as JSON text, `null` when deleted. `expiresAt` (ISO):
 * when a key written with a time to live expires; from then on it reads as absent (`hasExpired`), although its row
 * stays live until the worker's expiry delete (a versioned delete through the write path) is applied.
 */
export interface KvEntry {
  key: string;
  valueJson: string | null;
  version: number;
  deleted: boolean;
  updatedAt: string;
  expiresAt?: string;
}

/** One write to apply, in the order the broker delivered it. */
export interface WriteOp {
  id: string;
  key: string;
  type: OperationType;
  /** JSON text of the value, for `put`. */
  valueJson?: string;
  condition?: WriteCondition;
  acceptedAt: string;
  /** A put with a time to live: when the key expires (ISO). A put without it clears an earlier expiry. */
  expiresAt?: string;
  /** `expire`: the delete a worker published because the key's expiry passed (see `conditionHolds`). */
  cause?: WriteCause;
  /** The user whose request made it, recorded with its outcome (see `OperationRecord.ownerId`). */
  owner?: string;
}

/** A live key whose time to live ran out, as the expiry sweeper finds it. */
export interface ExpiredKey {
  key: string;
  version: number;
  expiresAt: string;
}

/** Where a walk over the expired keys stands: the last key seen, in (expiresAt, key) order. */
export interface ExpiryCursor {
  expiresAt: string;
  key: string;
}

/** A key's state with the operation that wrote it, for dead-letter replay's "written since?" check. */
export interface KvLastWrite extends KvEntry {
  /** Null on rows last written before schema 3, and on compacted tombstones. */
  lastOperationId: string | null;
  /** When the API accepted that operation; null where `lastOperationId` is. */
  lastAcceptedAt: string | null;
}

/**
 * A dead-lettered operation came back but may not be applied now (see `replayRefusal`). Not transient: the worker
 * rejects the operation alone and it is dead-lettered again with this message, for the operator to decide.
 */
export class ReplayRefusedError extends Error {
  constructor(
    readonly operationId: string,
    readonly reason: string,
  ) {
    super(`replay of operation ${operationId} refused: ${reason}`);
    this.name = 'ReplayRefusedError';
  }
}

export interface AppliedOp {
  id: string;
  key: string;
  type: OperationType;
  /** `conflict`: the write's condition did not hold; nothing was written. */
  status: 'applied' | 'conflict';
  /** Applied: the version written. Conflict: the key's version at that point (0 if it did not exist). */
  version: number;
  /** An applied put that brought the key into existence (it was absent or deleted). */
  created: boolean;
  /** True when an earlier delivery already settled this operation; nothing was written this time. */
  duplicate: boolean;
  /** `expire`: the write is the expiry delete of a key whose time to live ran out (for what reports changes). */
  cause?: WriteCause;
  /**
   * Applied: when the batch that applied it committed, the key's `updatedAt` from that write (for a duplicate, the
   * time recorded when it was first applied). The change stream carries it.
   */
  updatedAt: string;
}

export interface BatchResult {
  ops: AppliedOp[];
  /** The final state of every key the batch touched, for the cache. */
  entries: KvEntry[];
}

interface EntryRow {
  key: string;
  value_json: string | null;
  version: string;
  deleted: boolean;
  updated_at: Date;
  expires_at: Date | null;
}

interface LastWriteRow extends EntryRow {
  last_op_id: string | null;
  last_accepted_at: Date | null;
}

interface OperationRow {
  id: string;
  key: string;
  type: OperationType;
  status: 'applied' | 'conflict' | 'failed';
  version: string | null;
  replay_at_version: string | null;
  finished_at: Date;
}

/**
 * Whether `op`'s condition holds for a key in state `entry` (undefined: never written) at `now` (ms).
 *
 * A key whose expiry has passed is absent for every condition, as it is for GET, even while its row is still live
 * (its expiry delete not applied yet): `If-None-Match: *` creates it again, `If-Match` fails. The one exception is
 * that expiry delete itself (`cause: 'expire'`): it holds only while the key is still the live, expiring version it
 * was published for, so a key rewritten (or deleted) meanwhile keeps its new state and the delete ends as a conflict.
 */
function conditionHolds(op: Pick<WriteOp, 'condition' | 'cause'>, entry: KvEntry | undefined, now: number): boolean {
  const { condition } = op;
  if (op.cause === 'expire') {
    const expiring = entry !== undefined && !entry.deleted && entry.expiresAt !== undefined;
    return expiring && (condition?.kind !== 'version' || entry.version === condition.version);
  }
  const exists = entry !== undefined && !entry.deleted && !hasExpired(entry.expiresAt, now);
  switch (condition?.kind) {
    case undefined:
      return true;
    case 'absent':
      return !exists;
    case 'exists':
      return exists;
    case 'version':
      return exists && entry.version === condition.version;
  }
}

function toEntry(row: EntryRow): KvEntry {
  return {
    key: row.key,
    valueJson: row.value_json,
    version: Number(row.version),
    deleted: row.deleted,
    updatedAt: row.updated_at.toISOString(),
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
  };
}

function toLastWrite(row: LastWriteRow): KvLastWrite {
  return {
    ...toEntry(row),
    lastOperationId: row.last_op_id,
    lastAcceptedAt: row.last_accepted_at ? row.last_accepted_at.toISOString() : null,
  };
}

interface CompactedRow {
  key_hash: string;
  version: string;
  deleted_at: Date;
}

/** A compacted tombstone stands for the tombstone it replaced: deleted, at its last version. */
function fromCompacted(key: string, row: CompactedRow): KvLastWrite {
  return {
    key,
    valueJson: null,
    version: Number(row.version),
    deleted: true,
    updatedAt: row.deleted_at.toISOString(),
    lastOperationId: null,
    lastAcceptedAt: null,
  };
}

function withoutHistory({ key, valueJson, version, deleted, updatedAt, expiresAt }: KvLastWrite): KvEntry {
  return { key, valueJson, version, deleted, updatedAt, ...(expiresAt ? { expiresAt } : {}) };
}

/**
 * Batches are applied under REPEATABLE READ (snapshot isolation), not SERIALIZABLE. The rows a batch's
 * decisions depend on are rows it locks or writes: existing keys are read `FOR UPDATE`, new keys and every
 * operation id are inserted. Two transactions sharing such a row collide, and under REPEATABLE READ the later
 * one fails with 40001 ("concurrent update") and is retried: no lost update, no version written twice. The one
 * read not backed by a lock (a key that does not exist, for a write whose condition then fails) can only place
 * the batch before the one that creates the key, which is a valid serial order. Such collisions need two
 * consumers on one shard, which only happens for a moment during a failover: shards share no keys.
 *
 * Two more reads are not locked, and need not be. A dead-lettered operation's replay check (`replay_at_version`)
 * is on its operation row, which the batch writes, so an operator changing it meanwhile collides like any write.
 * A key without a row may have a compacted tombstone (`kv_compacted_tombstones`): it is written in the transaction
 * that compacts the tombstone and locks that tombstone's row first, so if this batch saw no row, that compaction
 * committed before the batch's snapshot and the record is visible; a compaction committing later must delete a row
 * the batch locked, and one of the two fails with 40001. A batch that writes such a key deletes the record.
 *
 * Keys with a time to live add no read: whether a key has expired is decided from its `expires_at`, on the row the
 * batch locks, and the clock, so an expired key's conditions (absent) rest on the lock like any other. The expiry
 * sweeper's read of `kv_entries_expires_at_idx` (`findExpired`) takes no lock and needs none: it only proposes a
 * delete, which goes through the shard's queue and is applied here under the key's version condition.
 *
 * SERIALIZABLE would add nothing here and costs a lot on PostgreSQL: it tracks reads per B-tree page, so
 * batches of different shards whose keys merely share an index page abort each other. Measured on the local
 * stack under sustained writes: about 1.7 aborted transactions per committed batch. CockroachDB runs this as
 * SERIALIZABLE unless REPEATABLE READ is enabled on the cluster; both are correct.
 */
const APPLY_ISOLATION = 'repeatable read';

export class KvRepository {
  constructor(
    private readonly writePool: Pool,
    private readonly readPool: Pool = writePool,
  ) {}

  /** Reads one key; `strong` reads the primary, otherwise a replica may answer. Deleted keys come back with `deleted`. */
  async find(key: string, { strong = false }: { strong?: boolean } = {}): Promise<KvEntry | undefined> {
    const pool = strong ? this.writePool : this.readPool;
    const result = await pool.query<EntryRow>(SELECT_ENTRY, [key]);
    const row = result.rows[0];
    return row ? toEntry(row) : undefined;
  }

  /**
   * Live keys whose expiry passed by `now`, from the primary, in (expiresAt, key) order after `after` (from the start
   * when not given), at most `limit`: one page of the expiry sweeper's walk through `kv_entries_expires_at_idx`.
   */
  async findExpired(now: Date, limit: number, after?: ExpiryCursor): Promise<ExpiredKey[]> {
    const result = await this.writePool.query<{ key: string; version: string; expires_at: Date }>({
      name: 'kv-select-expired',
      text: SELECT_EXPIRED,
      values: [now.toISOString(), after?.expiresAt ?? '1970-01-01T00:00:00.000Z', after?.key ?? '', limit],
    });
    return result.rows.map((row) => ({
      key: row.key,
      version: Number(row.version),
      expiresAt: row.expires_at.toISOString(),
    }));
  }

  /**
   * A key with the operation that last wrote it, from the primary (`npm run dlq -- replay` decides on it). A key
   * whose tombstone was compacted comes back deleted at its last version, as `applyBatch` sees it.
   */
  async findLastWrite(key: string): Promise<KvLastWrite | undefined> {
    const result = await this.writePool.query<LastWriteRow>(SELECT_LAST_WRITE, [key]);
    const row = result.rows[0];
    if (row) return toLastWrite(row);
    const compacted = await this.writePool.query<CompactedRow>(SELECT_COMPACTED_TOMBSTONES, [[keyHash(key)]]);
    return compacted.rows[0] ? fromCompacted(key, compacted.rows[0]) : undefined;
  }

  /**
   * Applies a shard's batch of writes in one transaction, in order. Every applied operation raises its key's
   * version by exactly one; deletes too (the row stays as a tombstone, so a key written again continues from
   * its last version; a compacted tombstone keeps that version, so the key still continues from it). An operation
   * id already recorded, or the key's last write, is skipped, which makes redelivery harmless. A dead-lettered
   * operation (recorded `failed`) that comes back is applied only if `replayRefusal` allows it; otherwise the
   * batch fails with `ReplayRefusedError` (the worker then rejects that operation alone).
   * Several writes to one key in a batch collapse into a single row update carrying the last state.
   */
  async applyBatch(ops: WriteOp[], options?: TransactionOptions): Promise<BatchResult> {
    return withTransaction(this.writePool, (client) => this.applyInTransaction(client, ops), {
      isolation: APPLY_ISOLATION,
      ...options,
    });
  }

  private async applyInTransaction(client: PoolClient, ops: WriteOp[]): Promise<BatchResult> {
    const ids = [...new Set(ops.map((op) => op.id))];
    const keys = [...new Set(ops.map((op) => op.key))];
    const done = await client.query<OperationRow>({
      name: 'kv-select-operations',
      text: SELECT_OPERATIONS_BY_ID,
      values: [ids],
    });
    const settled = new Map(done.rows.filter((row) => row.status !== 'failed').map((row) => [row.id, row]));
    // Dead-lettered operations that came back: an operator's replay, or a redelivery after the failure was recorded.
    const failed = new Map(done.rows.filter((row) => row.status === 'failed').map((row) => [row.id, row]));
    const current = await client.query<LastWriteRow>({
      name: 'kv-lock-entries',
      text: SELECT_ENTRIES_FOR_UPDATE,
      values: [keys],
    });
    const state = new Map(current.rows.map((row) => [row.key, toLastWrite(row)]));
    const compacted = await this.compactedTombstones(
      client,
      keys.filter((key) => !state.has(key)),
    );
    for (const [key, tombstone] of compacted) state.set(key, tombstone);

    const now = new Date().toISOString();
    const nowMs = Date.parse(now);
    const outcomes = new Map<string, AppliedOp>();
    const applied: AppliedOp[] = [];
    const toRecord: AppliedOp[] = [];
    const changed = new Set<string>();
    for (const op of ops) {
      const earlier = settled.get(op.id);
      const seen = outcomes.get(op.id);
      const before = state.get(op.key);
      // Its record may have been pruned, but the key still says this operation wrote it last.
      const wroteLast = !earlier && !seen && before?.lastOperationId === op.id ? before : undefined;
      if (earlier || seen || wroteLast) {
        const status = earlier ? (earlier.status === 'conflict' ? 'conflict' : 'applied') : (seen?.status ?? 'applied');
        const version = earlier ? Number(earlier.version ?? 0) : (seen?.version ?? wroteLast?.version ?? 0);
        const updatedAt = earlier
          ? earlier.finished_at.toISOString()
          : (seen?.updatedAt ?? wroteLast?.updatedAt ?? now);
        applied.push({
          id: op.id,
          key: op.key,
          type: op.type,
          status,
          version,
          created: false,
          duplicate: true,
          updatedAt,
        });
        continue;
      }
      const record = failed.get(op.id);
      if (record) {
        const replayAtVersion = record.replay_at_version === null ? null : Number(record.replay_at_version);
        const refusal = replayRefusal(op, { replayAtVersion }, before);
        if (refusal) throw new ReplayRefusedError(op.id, refusal);
      }
      let outcome: AppliedOp;
      if (!conditionHolds(op, before, nowMs)) {
        outcome = {
          id: op.id,
          key: op.key,
          type: op.type,
          status: 'conflict',
          version: before?.version ?? 0,
          created: false,
          duplicate: false,
          updatedAt: now,
        };
      } else {
        const version = (before?.version ?? 0) + 1;
        state.set(op.key, {
          key: op.key,
          valueJson: op.type === 'put' ? (op.valueJson ?? 'null') : null,
          version,
          deleted: op.type === 'delete',
          updatedAt: now,
          // A put without a time to live clears an earlier one; a tombstone never expires.
          ...(op.type === 'put' && op.expiresAt ? { expiresAt: op.expiresAt } : {}),
          lastOperationId: op.id,
          lastAcceptedAt: op.acceptedAt,
        });
        changed.add(op.key);
        // An expired key is absent (see `conditionHolds`): writing it again creates it.
        const absent = before === undefined || before.deleted || hasExpired(before.expiresAt, nowMs);
        const created = op.type === 'put' && absent;
        outcome = {
          id: op.id,
          key: op.key,
          type: op.type,
          status: 'applied',
          version,
          created,
          duplicate: false,
          ...(op.cause ? { cause: op.cause } : {}),
          updatedAt: now,
        };
      }
      outcomes.set(op.id, outcome);
      applied.push(outcome);
      toRecord.push(outcome);
    }

    const byId = new Map(ops.map((op) => [op.id, op]));
    if (changed.size > 0) {
      const rows = [...changed].map((key) => state.get(key) as KvLastWrite);
      await client.query({
        name: 'kv-upsert-entries',
        text: UPSERT_ENTRIES,
        values: [
          rows.map((e) => e.key),
          rows.map((e) => e.valueJson),
          rows.map((e) => e.version),
          rows.map((e) => e.deleted),
          rows.map((e) => e.updatedAt),
          rows.map((e) => e.lastOperationId),
          rows.map((e) => e.lastAcceptedAt),
          rows.map((e) => e.expiresAt ?? null),
        ],
      });
      // Written again, a key with a compacted tombstone is a row again; the row now carries its version.
      const revived = rows.filter((e) => compacted.has(e.key)).map((e) => keyHash(e.key));
      if (revived.length > 0) await client.query(DELETE_COMPACTED_TOMBSTONES, [revived]);
    }
    if (toRecord.length > 0) {
      await client.query({
        name: 'kv-record-operations',
        text: RECORD_OPERATIONS,
        values: [
          toRecord.map((o) => o.id),
          toRecord.map((o) => o.key),
          toRecord.map((o) => o.type),
          toRecord.map((o) => o.status),
          toRecord.map((o) => o.version),
          toRecord.map((o) => byId.get(o.id)?.acceptedAt ?? now),
          now,
          toRecord.map((o) => byId.get(o.id)?.owner ?? null),
        ],
      });
    }
    return {
      ops: applied,
      entries: keys
        .map((k) => state.get(k))
        .filter((e): e is KvLastWrite => e !== undefined)
        .map(withoutHistory),
    };
  }

  /**
   * The compacted tombstones of `keys` (keys without a row), by key. Read inside the apply transaction without a
   * lock, which is enough: a tombstone is compacted in a transaction that locks its row first, so if this batch saw
   * no row, the compaction committed before the batch's snapshot and its record is visible here; a compaction
   * committing later must delete a row this batch locked, and one of the two fails with 40001.
   */
  private async compactedTombstones(client: PoolClient, keys: string[]): Promise<Map<string, KvLastWrite>> {
    if (keys.length === 0) return new Map();
    const byHash = new Map(keys.map((key) => [keyHash(key), key]));
    const result = await client.query<CompactedRow>(SELECT_COMPACTED_TOMBSTONES, [[...byHash.keys()]]);
    const found = new Map<string, KvLastWrite>();
    for (const row of result.rows) {
      const key = byHash.get(row.key_hash);
      if (key !== undefined) found.set(key, fromCompacted(key, row));
    }
    return found;
  }

  /**
   * Compacts up to `limit` tombstones deleted before `before`, oldest first, except those of keys with a dead
   * letter (a replay must still see that its key was deleted after it). A compacted tombstone leaves only its key's
   * hash, last version and deletion time (`kv_compacted_tombstones`), and `applyBatch` treats a key with such a
   * record exactly as it treated the tombstone: deleted at that version. So a key written again continues from its
   * last version, gapless and never repeating one, and conditions see the same state. Returns how many went.
   *
   * REPEATABLE READ, like apply: the tombstones are read `FOR UPDATE`, so an apply re-creating one of these keys at
   * the same time collides on the row and one of the two retries (40001).
   */
  async compactTombstones(before: Date, limit = 1_000, options?: TransactionOptions): Promise<number> {
    return withTransaction(
      this.writePool,
      async (client) => {
        const result = await client.query<{ key: string; version: string; updated_at: Date }>(
          SELECT_COMPACTABLE_TOMBSTONES,
          [before.toISOString(), limit],
        );
        if (result.rows.length === 0) return 0;
        const records = compactedTombstonesOf(
          result.rows.map((row) => ({
            key: row.key,
            version: Number(row.version),
            deletedAt: row.updated_at.toISOString(),
          })),
        );
        await client.query(
          recordCompactedTombstones(records.length),
          records.flatMap((r) => [r.keyHash, r.version, r.deletedAt]),
        );
        const deleted = await client.query(DELETE_TOMBSTONES, [
          result.rows.map((row) => row.key),
          before.toISOString(),
        ]);
        return deleted.rowCount ?? 0;
      },
      { isolation: APPLY_ISOLATION, ...options },
    );
  }
}
