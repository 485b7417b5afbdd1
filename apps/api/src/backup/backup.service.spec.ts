import { describe, expect, it } from 'vitest';
import type { KvCache } from '@keyflow/cache';
import { DomainError } from '@keyflow/contracts';
import type { BackupRepository, BackupRow, RestoreLine } from '@keyflow/db';
import { BackupService } from './backup.service';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const line = (key: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ key, value: { key }, version: 5, updatedAt: '2026-11-23T10:15:30.123Z', ...extra });

/** A repository that restores every key not in `existing`, and a cache that records what it was given. */
function service(existing: string[] = [], cacheFails = false) {
  const restored: RestoreLine[][] = [];
  const cached: unknown[] = [];
  const repository = {
    restore: (lines: RestoreLine[]): Promise<BackupRow[]> => {
      restored.push(lines);
      return Promise.resolve(
        lines
          .filter((l) => !existing.includes(l.key))
          .map((l) => ({
            key: l.key,
            valueJson: '{"a": 1}',
            version: 5,
            updatedAt: '2026-11-23T10:15:30.123Z',
            expiresAt: l.key === 'd' ? '2026-11-23T13:00:00.000Z' : null,
          })),
      );
    },
  } as unknown as BackupRepository;
  const cache = {
    commit: (entries: unknown[]) => {
      if (cacheFails) return Promise.reject(new Error('CLUSTERDOWN'));
      cached.push(...entries);
      return Promise.resolve({ outOfMemory: [] });
    },
  } as unknown as KvCache;
  return { backups: new BackupService(repository, cache), restored, cached };
}

describe(BackupService.name, () => {
  describe('restore', () => {
    it('should restore the lines not expired, count the existing keys, and cache what it inserted', async () => {
      const { backups, restored, cached } = service(['b']);
      const body = `${line('a')}\r\n${line('b')}\n${line('c', { expiresAt: '2026-11-23T11:00:00.000Z' })}\n${line('d', { expiresAt: '2026-11-23T13:00:00.000Z' })}\n`;
      expect(await backups.restore(body, NOW)).toEqual({ received: 4, restored: 2, existing: 1, expired: 1 });
      expect(restored[0]?.map((l) => l.key)).toEqual(['a', 'b', 'd']);
      // The line's text goes to the database as it came (the database parses the value), without the CR.
      expect(restored[0]?.[0]?.text).toBe(line('a'));
      // A key with a time to live is cached with its expiry, so that the cache too reads it as absent from then on.
      const entry = { state: 'present', version: 5, valueJson: '{"a": 1}', updatedAt: '2026-11-23T10:15:30.123Z' };
      expect(cached).toEqual([
        { key: 'a', entry },
        { key: 'd', entry: { ...entry, expiresAt: '2026-11-23T13:00:00.000Z' } },
      ]);
    });

    it.each([
      ['', 'the body holds no line to restore'],
      [`${line('a')}\n\n${line('b')}`, 'line 2: the line is empty'],
      [`${line('a')}\n${line('b', { version: 0 })}`, 'line 2: version must be an integer of at least 1'],
      [`${line('a')}\n${line('b')}\n${line('a')}`, 'line 3: the key "a" is already on line 1'],
      [
        `${line('a')}\n{"key":"x","value":1e999999,"version":1,"updatedAt":"2026-11-23T10:15:30.123Z"}`,
        'line 2: the number 1e999999 at /value',
      ],
    ])('should refuse the whole request, naming the line, for %#', async (body, message) => {
      const { backups, restored } = service();
      const refused = backups.restore(body, NOW);
      await expect(refused).rejects.toThrow(DomainError);
      await expect(refused).rejects.toThrow(message);
      expect(restored).toEqual([]);
    });

    it('should answer even when the cache cannot take the restored keys (they are committed)', async () => {
      const { backups } = service([], true);
      expect(await backups.restore(line('a'), NOW)).toEqual({ received: 1, restored: 1, existing: 0, expired: 0 });
    });
  });
});

describe(`${BackupService.name} open`, () => {
  function snapshotService() {
    const closed: string[] = [];
    const repository = {
      openSnapshot: () =>
        Promise.resolve({
          takenAt: '2026-11-23T12:00:00.000Z',
          keys: 2,
          rows: async function* () {
            yield await Promise.resolve([
              { key: 'a', valueJson: '{"x": 1}', version: 2, updatedAt: '2026-11-23T10:00:00.000Z', expiresAt: null },
              {
                key: 'b',
                valueJson: '1',
                version: 1,
                updatedAt: '2026-11-23T10:00:00.000Z',
                expiresAt: '2026-11-23T13:00:00.000Z',
              },
            ]);
          },
          close: () => {
            closed.push('closed');
            return Promise.resolve();
          },
        }),
    } as unknown as BackupRepository;
    return { backups: new BackupService(repository, {} as KvCache), closed };
  }

  it('should stream the snapshot as backup lines and end the snapshot after the last page', async () => {
    const { backups, closed } = snapshotService();
    const backup = await backups.open('a');
    const text: string[] = [];
    for await (const page of backup.lines) text.push(page);
    expect(text.join('')).toBe(
      '{"key":"a","value":{"x": 1},"version":2,"updatedAt":"2026-11-23T10:00:00.000Z"}\n' +
        '{"key":"b","value":1,"version":1,"updatedAt":"2026-11-23T10:00:00.000Z","expiresAt":"2026-11-23T13:00:00.000Z"}\n',
    );
    backup.abandon();
    expect(closed).toEqual(['closed']);
  });

  it('should end a snapshot whose lines were never read', async () => {
    const { backups, closed } = snapshotService();
    const backup = await backups.open();
    await backup.lines.return(undefined);
    backup.abandon();
    expect(closed).toEqual(['closed']);
  });
});
