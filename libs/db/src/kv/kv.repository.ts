import type { Pool, PoolClient } from 'pg';
import type { OperationType } from '@keyflow/contracts';
import { withTransaction, type TransactionOptions } from '../transaction.util';
import { insertOperations, SELECT_OPERATIONS_BY_ID } from '../operations/operation.sql';
import { SELECT_ENTRIES_FOR_UPDATE, SELECT_ENTRY, upsertEntries } from './kv.sql';

/** A key's state in the database. `valueJson` is the value as JSON text, `null` when deleted. */
export interface KvEntry {
  key: string;
  valueJson: string | null;
  version: number;
  deleted: boolean;
  updatedAt: string;
}

/** One write to apply, in the order the broker delivered it. */
export interface WriteOp {
  id: string;
  key: string;
  type: OperationType;
  /** JSON text of the value, for `put`. */
  valueJson?: string;
  acceptedAt: string;
}

export interface AppliedOp {
  id: string;
  key: string;
  type: OperationType;
  version: number;
  /** True when an earlier delivery already applied this operation; nothing was written this time. */
  duplicate: boolean;
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
}

interface OperationRow {
  id: string;
  key: string;
  type: OperationType;
  status: string;
  version: string | null;
}

function toEntry(row: EntryRow): KvEntry {
  return {
    key: row.key,
    valueJson: row.value_json,
    version: Number(row.version),
    deleted: row.deleted,
    updatedAt: row.updated_at.toISOString(),
  };
}

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
   * Applies a shard's batch of writes in one transaction, in order. Every applied operation raises its key's
   * version by exactly one; deletes too (the row stays as a tombstone, so a key written again continues from
   * its last version). An operation id already recorded is skipped, which makes redelivery harmless.
   * Several writes to one key in a batch collapse into a single row update carrying the last state.
   */
  async applyBatch(ops: WriteOp[], options?: TransactionOptions): Promise<BatchResult> {
    return withTransaction(this.writePool, (client) => this.applyInTransaction(client, ops), options);
  }

  private async applyInTransaction(client: PoolClient, ops: WriteOp[]): Promise<BatchResult> {
    const ids = [...new Set(ops.map((op) => op.id))];
    const keys = [...new Set(ops.map((op) => op.key))];
    const done = await client.query<OperationRow>(SELECT_OPERATIONS_BY_ID, [ids]);
    const previously = new Map(done.rows.map((row) => [row.id, row]));
    const current = await client.query<EntryRow>(SELECT_ENTRIES_FOR_UPDATE, [keys]);
    const state = new Map(current.rows.map((row) => [row.key, toEntry(row)]));

    const now = new Date().toISOString();
    const applied: AppliedOp[] = [];
    const toInsert: WriteOp[] = [];
    const versions = new Map<string, number>();
    const changed = new Set<string>();
    const seen = new Set<string>();
    for (const op of ops) {
      const earlier = previously.get(op.id);
      if (earlier || seen.has(op.id)) {
        const version = earlier ? Number(earlier.version ?? 0) : (versions.get(op.id) ?? 0);
        applied.push({ id: op.id, key: op.key, type: op.type, version, duplicate: true });
        continue;
      }
      seen.add(op.id);
      const before = state.get(op.key);
      const version = (before?.version ?? 0) + 1;
      state.set(op.key, {
        key: op.key,
        valueJson: op.type === 'put' ? (op.valueJson ?? 'null') : null,
        version,
        deleted: op.type === 'delete',
        updatedAt: now,
      });
      changed.add(op.key);
      versions.set(op.id, version);
      applied.push({ id: op.id, key: op.key, type: op.type, version, duplicate: false });
      toInsert.push(op);
    }

    if (changed.size > 0) {
      const rows = [...changed].map((key) => state.get(key) as KvEntry);
      await client.query(
        upsertEntries(rows.length),
        rows.flatMap((e) => [e.key, e.valueJson, e.version, e.deleted, e.updatedAt]),
      );
      await client.query(
        insertOperations(toInsert.length),
        toInsert.flatMap((op) => [op.id, op.key, op.type, 'applied', versions.get(op.id), null, op.acceptedAt, now]),
      );
    }
    return { ops: applied, entries: keys.map((k) => state.get(k)).filter((e): e is KvEntry => e !== undefined) };
  }
}
