import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type PrefixScope } from '@keyflow/contracts';
import { isTransientDbError, KvListRepository, type KvListItem, type KvListPage } from '@keyflow/db';
import { encodeCursor, type ListQuery } from './list-query.util';

/** One page of a listing, ready to send: its JSON text and how many keys it holds. */
export interface ListedPage {
  json: string;
  count: number;
}

/**
 * `GET /v1/kv?prefix=`: a page of live keys from the database (a replica, or the primary with `strong`), never the
 * cache: the cache holds single keys, not ranges. The body is built as text around each value's stored JSON text,
 * as `GET /v1/kv/{key}` is, so every value reads back exactly as that route answers it.
 */
@Injectable()
export class KvListService {
  constructor(private readonly repository: KvListRepository) {}

  /**
   * `scope`: which keys under the prefix the caller may see (see `requirePrefixScope`). Restricted to some granted
   * prefixes, the page is filled from each of them in turn, in key order (they are disjoint, and sorted), from where
   * the cursor left off; the cursor is the same as an unrestricted listing's (the last key given).
   */
  async list(query: ListQuery, scope: PrefixScope = { kind: 'all' }): Promise<ListedPage> {
    let page: KvListPage;
    try {
      page = scope.kind === 'some' ? await this.listWithin(query, scope.prefixes) : await this.repository.list(query);
    } catch (err) {
      if (isTransientDbError(err)) {
        throw new DomainError(ErrorCode.DATABASE_UNAVAILABLE, 'the database is unavailable; retry shortly', {
          retryAfterSeconds: 1,
        });
      }
      throw err;
    }
    const cursor = page.nextAfter === undefined ? 'null' : JSON.stringify(encodeCursor(query.prefix, page.nextAfter));
    return {
      json: `{"items":[${page.items.map((item) => itemJson(item, query.keysOnly)).join(',')}],"cursor":${cursor}}`,
      count: page.items.length,
    };
  }

  private async listWithin(query: ListQuery, prefixes: string[]): Promise<KvListPage> {
    const items: KvListItem[] = [];
    for (const prefix of prefixes) {
      const remaining = query.limit - items.length;
      // A cursor at or past this prefix continues inside it (or finds nothing there); one before it starts it whole.
      const { after, ...rest } = query;
      const continues = after !== undefined && Buffer.compare(Buffer.from(after), Buffer.from(prefix)) >= 0;
      const page = await this.repository.list({ ...rest, prefix, limit: remaining, ...(continues ? { after } : {}) });
      items.push(...page.items);
      if (page.nextAfter !== undefined) return { items, nextAfter: page.nextAfter };
      // Full exactly at this prefix's end: a later prefix may hold more, so the client asks once more.
      if (items.length >= query.limit) return { items, nextAfter: items.at(-1)?.key };
    }
    return { items };
  }
}

/** One item, the value spliced in as stored (`value::TEXT`), as `entryBody` does for a single key. */
export function itemJson(item: KvListItem, keysOnly: boolean): string {
  const value = keysOnly ? '' : `,"value":${item.valueJson ?? 'null'}`;
  const expires = item.expiresAt === undefined ? '' : `,"expiresAt":${JSON.stringify(item.expiresAt)}`;
  return `{"key":${JSON.stringify(item.key)}${value},"version":${item.version},"updatedAt":${JSON.stringify(item.updatedAt)}${expires}}`;
}
