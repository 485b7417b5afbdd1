import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { isTransientDbError, KvListRepository, type KvListItem } from '@keyflow/db';
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

  async list(query: ListQuery): Promise<ListedPage> {
    let page;
    try {
      page = await this.repository.list(query);
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
}

/** One item, the value spliced in as stored (`value::TEXT`), as `entryBody` does for a single key. */
export function itemJson(item: KvListItem, keysOnly: boolean): string {
  const value = keysOnly ? '' : `,"value":${item.valueJson ?? 'null'}`;
  const expires = item.expiresAt === undefined ? '' : `,"expiresAt":${JSON.stringify(item.expiresAt)}`;
  return `{"key":${JSON.stringify(item.key)}${value},"version":${item.version},"updatedAt":${JSON.stringify(item.updatedAt)}${expires}}`;
}
