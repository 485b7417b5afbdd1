import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '../transaction.util';
import { keyHash } from '../kv/compacted-tombstone.util';
import {
  COUNT_LIVE_ENTRIES,
  INSERT_RESTORED_ENTRIES,
  SELECT_COMPACTED_HASHES,
  SELECT_LIVE_ENTRIES_PAGE,
  SELECT_SERVER_VERSION,
  SELECT_SNAPSHOT_TIME,
  SNAPSHOT_BEGIN,
} from './backup.sql';

/** A live key as a backup holds it: the value as the database's JSON text, exactly as stored. */
export interface BackupRow {
  key: string;
  valueJson: string;
  version: number;
  updatedAt: string;
  expiresAt: string | null;
}

/**
 * One open, read-only snapshot of every live key (under a prefix, if one was given). `rows()` pages through it in key order; `close()` ends the
 * transaction and returns the connection (call it whatever happened, once the rows are read or abandoned).
 */
export interface BackupSnapshot {
  /** When the snapshot was taken (the database's clock); keys expired by then are left out. */
  takenAt: string;
  /** How many keys `rows()` yields, counted in the same snapshot. */
  keys: number;
  rows(): AsyncGenerator<BackupRow[]>;
  close(): Promise<void>;
}

/** A restore line to insert (its JSON text as received) and the key it is for. */
export interface RestoreLine {
  key: string;
  text: string;
}

interface BackupRowRecord {
  key: string;
  value_json: string;
  version: string;
  updated_at: Date;
  expires_at: Date | null;
}

function toRow(row: BackupRowRecord): BackupRow {
  return {
    key: row.key,
    valueJson: row.value_json,
    version: Number(row.version),
    updatedAt: row.updated_at.toISOString(),
    expiresAt: row.expires_at ? row.expires_at.toISOString() : null,
  };
}

/** Page sizes: pages grow while they are small and shrink when their values are large, to bound the memory held. */
const FIRST_PAGE_ROWS = 16;
const MAX_PAGE_ROWS = 1_000;
const PAGE_BYTES = 8 * 1024 * 1024;

/**
 * What backup and restore read and write, on the primary (`pool`). A backup is ONE snapshot transaction, paged by
 * key inside it, so every page sees the same moment: a key written while the backup runs is in it at the version
 * it had when the snapshot was taken, or not at all, and no key is seen twice or missed. A restore inserts entries
 * with their versions where the key does not exist at all.
 */
export class BackupRepository {
  private dialect?: Promise<keyof typeof SNAPSHOT_BEGIN>;

  constructor(private readonly pool: Pool) {}

  /**
   * Opens the snapshot. Not through `withTransaction`: its rows are streamed to a client as they are read, so it
   * could not be run again after a failure; it needs no retry either (see `SNAPSHOT_BEGIN`). A failure after the
   * first page reaches the client as a stream that ends early, which the key count announced up front reveals.
   */
  async openSnapshot({ prefix = '' }: { prefix?: string } = {}): Promise<BackupSnapshot> {
    const dialect = await this.databaseDialect();
    const client = await this.pool.connect();
    let open = false;
    const close = async (): Promise<void> => {
      if (!open) return;
      open = false;
      let broken = false;
      await client.query('ROLLBACK').catch(() => (broken = true));
      client.release(broken);
    };
    try {
      await client.query(SNAPSHOT_BEGIN[dialect]);
      open = true;
      const time = await client.query<{ taken_at: Date }>(SELECT_SNAPSHOT_TIME);
      const takenAt = (time.rows[0]?.taken_at ?? new Date()).toISOString();
      const count = await client.query<{ keys: string }>(COUNT_LIVE_ENTRIES, [takenAt, prefix]);
      return {
        takenAt,
        keys: Number(count.rows[0]?.keys ?? 0),
        rows: () => this.pages(client, takenAt, prefix),
        close,
      };
    } catch (err) {
      if (open) await close();
      else client.release(true);
      throw err;
    }
  }

  private async *pages(client: PoolClient, takenAt: string, prefix: string): AsyncGenerator<BackupRow[]> {
    let after = '';
    let limit = FIRST_PAGE_ROWS;
    for (;;) {
      const result = await client.query<BackupRowRecord>(SELECT_LIVE_ENTRIES_PAGE, [after, takenAt, limit, prefix]);
      const rows = result.rows.map(toRow);
      if (rows.length === 0) return;
      yield rows;
      if (rows.length < limit) return;
      after = rows[rows.length - 1]?.key ?? after;
      const bytes = rows.reduce((sum, row) => sum + row.valueJson.length, 0);
      limit = Math.max(1, Math.min(MAX_PAGE_ROWS, Math.floor((limit * PAGE_BYTES) / Math.max(bytes, 1)), limit * 2));
    }
  }

  /**
   * Inserts the lines' entries with their versions, value, `updatedAt` and `expiresAt`, only where the key does not
   * exist at all: no row (not even a tombstone) and no compacted tombstone. A key that exists in any form keeps what
   * it has, so versions never go back or repeat and a restore run twice changes nothing the second time. One
   * transaction per call, REPEATABLE READ like the workers' batches: a worker creating one of these keys at the same
   * time collides on its row, and whichever commits second retries (40001) and then sees the other's row, so the
   * worker continues from the restored version or the restore leaves the worker's key alone. Returns what was
   * inserted.
   */
  async restore(lines: RestoreLine[]): Promise<BackupRow[]> {
    if (lines.length === 0) return [];
    return withTransaction(
      this.pool,
      async (client) => {
        const hashes = new Map(lines.map((line) => [keyHash(line.key), line.key]));
        const compacted = await client.query<{ key_hash: string }>(SELECT_COMPACTED_HASHES, [[...hashes.keys()]]);
        const existed = new Set(compacted.rows.map((row) => hashes.get(row.key_hash)));
        const fresh = lines.filter((line) => !existed.has(line.key)).map((line) => line.text);
        if (fresh.length === 0) return [];
        const inserted = await client.query<BackupRowRecord>(INSERT_RESTORED_ENTRIES, [fresh]);
        return inserted.rows.map(toRow);
      },
      { isolation: 'repeatable read' },
    );
  }

  private databaseDialect(): Promise<keyof typeof SNAPSHOT_BEGIN> {
    this.dialect ??= this.pool
      .query<{ version: string }>(SELECT_SERVER_VERSION)
      .then(({ rows }) => (/CockroachDB/.test(rows[0]?.version ?? '') ? 'cockroach' : 'postgres'));
    this.dialect.catch(() => (this.dialect = undefined));
    return this.dialect;
  }
}
