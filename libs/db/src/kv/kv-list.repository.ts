import type { Pool } from 'pg';
import { prefixSuccessor } from './key-range.util';
import { selectLivePage } from './kv-list.sql';

/** A live key as a listing shows it. `valueJson` is the value as JSON text, exactly as stored; null with `keysOnly`. */
export interface KvListItem {
  key: string;
  valueJson: string | null;
  version: number;
  updatedAt: string;
  /** When the key expires (ISO), for a key written with a time to live. */
  expiresAt?: string;
}

export interface KvListPage {
  items: KvListItem[];
  /** The last key of this page when another page may follow (the next page starts after it); else undefined. */
  nextAfter?: string;
}

export interface KvListQuery {
  /** Only keys that start with it; '' for every key. */
  prefix: string;
  /** At most this many items. */
  limit: number;
  /** Start after this key (exclusive): the last key of the previous page. */
  after?: string;
  keysOnly?: boolean;
  /** Read the primary; otherwise a replica may answer. */
  strong?: boolean;
}

interface ListRow {
  key: string;
  value_json: string | null;
  version: string;
  updated_at: Date;
  expires_at: Date | null;
}

/**
 * Lists live keys by prefix, a page at a time, in UTF-8 byte order (see `selectLivePage` for how the order and
 * the use of the primary-key index are ensured on PostgreSQL and CockroachDB).
 *
 * Keyset paging: each page starts strictly after the last key of the one before, so a key that exists from the
 * first page to the last appears exactly once, whatever is written meanwhile (a key created or deleted while the
 * listing runs may or may not appear, once at most). No offset, no snapshot held between pages.
 */
export class KvListRepository {
  constructor(
    private readonly writePool: Pool,
    private readonly readPool: Pool = writePool,
  ) {}

  async list({ prefix, limit, after, keysOnly = false, strong = false }: KvListQuery): Promise<KvListPage> {
    const successor = prefixSuccessor(prefix);
    const text = selectLivePage({ after: after !== undefined, below: successor !== undefined, keysOnly });
    const values: unknown[] = [prefix];
    if (after !== undefined) values.push(after);
    if (successor !== undefined) values.push(successor);
    // One more row than asked for: if it comes, another page follows.
    values.push(limit + 1);
    const pool = strong ? this.writePool : this.readPool;
    const { rows } = await pool.query<ListRow>(text, values);
    const items = rows.slice(0, limit).map(toItem);
    return rows.length > limit ? { items, nextAfter: items.at(-1)?.key } : { items };
  }
}

function toItem(row: ListRow): KvListItem {
  return {
    key: row.key,
    valueJson: row.value_json,
    version: Number(row.version),
    updatedAt: row.updated_at.toISOString(),
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
  };
}
