import { describe, expect, it } from 'vitest';
import type { KvListPage, KvListQuery, KvListRepository } from '@keyflow/db';
import { decodeCursor, type ListQuery } from './list-query.util';
import { KvListService } from './kv-list.service';

/** An in-memory repository over sorted keys, paging as the real one does (after a key, within a prefix). */
function repositoryOf(keys: string[]): KvListRepository {
  const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return {
    list: ({ prefix, limit, after }: KvListQuery): Promise<KvListPage> => {
      const rows = sorted.filter(
        (k) => k.startsWith(prefix) && (after === undefined || Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0),
      );
      const items = rows
        .slice(0, limit)
        .map((key) => ({ key, valueJson: '1', version: 1, updatedAt: '2026-12-01T00:00:00.000Z' }));
      return Promise.resolve(rows.length > limit ? { items, nextAfter: items.at(-1)?.key } : { items });
    },
  } as unknown as KvListRepository;
}

async function listAll(service: KvListService, prefixes: string[], limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const query: ListQuery = { prefix: '', limit, keysOnly: true, strong: false, ...(after ? { after } : {}) };
    const page = JSON.parse((await service.list(query, { kind: 'some', prefixes })).json) as {
      items: Array<{ key: string }>;
      cursor: string | null;
    };
    pages.push(page.items.map((i) => i.key));
    if (page.cursor === null) return pages;
    after = decodeCursor(page.cursor, '');
  }
}

describe(KvListService.name, () => {
  describe('list within granted prefixes', () => {
    const keys = ['a/1', 'alice/1', 'b/1', 'b/2', 'b/3', 'bob/1', 'c/1', 'c/2', 'z/1'];

    it('should page through only the granted prefixes, in key order, each key once', async () => {
      const service = new KvListService(repositoryOf(keys));
      expect(await listAll(service, ['b/', 'c/'], 2)).toEqual([['b/1', 'b/2'], ['b/3', 'c/1'], ['c/2']]);
      expect(await listAll(service, ['a/', 'bob/', 'z/'], 10)).toEqual([['a/1', 'bob/1', 'z/1']]);
    });

    it('should end with an empty page when a page fills exactly at the end of a prefix and nothing follows', async () => {
      const service = new KvListService(repositoryOf(keys));
      expect(await listAll(service, ['b/', 'q/'], 3)).toEqual([['b/1', 'b/2', 'b/3'], []]);
    });
  });
});
