import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import { BackupRepository, type BackupRow } from '../backup/backup.repository';
import { KvRepository, type WriteOp } from '../kv/kv.repository';
import { runMigrations } from '../migrations/migration.service';

const at = '2026-11-23T10:00:00.000Z';
const put = (key: string, value: unknown): WriteOp => ({
  id: randomUUID(),
  key,
  type: 'put',
  valueJson: JSON.stringify(value),
  acceptedAt: at,
});
const del = (key: string): WriteOp => ({ id: randomUUID(), key, type: 'delete', acceptedAt: at });
const line = (key: string, valueJson: string, version: number, expiresAt?: string) =>
  `{"key":${JSON.stringify(key)},"value":${valueJson},"version":${version},"updatedAt":"2026-11-20T08:00:00.000Z"${expiresAt ? `,"expiresAt":"${expiresAt}"` : ''}}`;

async function rowsOf(repository: BackupRepository, prefix?: string): Promise<{ keys: number; rows: BackupRow[] }> {
  const snapshot = await repository.openSnapshot(prefix !== undefined ? { prefix } : {});
  const rows: BackupRow[] = [];
  try {
    for await (const page of snapshot.rows()) rows.push(...page);
  } finally {
    await snapshot.close();
  }
  return { keys: snapshot.keys, rows };
}

/** Backup snapshots and restores, run against PostgreSQL (the stack) and CockroachDB (when one is given). */
export function describeBackupRepositoryContract(databaseUrl: () => string): void {
  describe(BackupRepository.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    let kv: KvRepository;
    let backups: BackupRepository;

    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(databaseUrl(), 'backup'));
      await runMigrations(pool);
      kv = new KvRepository(pool);
      backups = new BackupRepository(pool);
    });
    afterAll(() => drop());

    describe('openSnapshot', () => {
      it('should hold every live key as of its start, in key order, while writes go on', async () => {
        await kv.applyBatch([put('s/a', { n: 1.5 }), put('s/b', 'b'), put('s/c', 0), del('s/c'), put('s/d', 'old')]);
        await kv.applyBatch([put('s/e', 'later'), put('s/f', 'expired')]);
        await pool.query(`UPDATE kv_entries SET expires_at = now() - interval '1 second' WHERE key = 's/f'`);
        await pool.query(`UPDATE kv_entries SET expires_at = '2100-01-01T00:00:00Z' WHERE key = 's/e'`);

        const snapshot = await backups.openSnapshot({ prefix: 's/' });
        try {
          // Committed after the snapshot began: none of it may show.
          await kv.applyBatch([put('s/a', 'newer'), put('s/aa', 'new'), del('s/b'), put('s/d', 'new')]);
          const rows: BackupRow[] = [];
          for await (const page of snapshot.rows()) rows.push(...page);
          expect(snapshot.keys).toBe(4);
          expect(rows).toEqual([
            { key: 's/a', valueJson: '{"n": 1.5}', version: 1, updatedAt: expect.any(String), expiresAt: null },
            { key: 's/b', valueJson: '"b"', version: 1, updatedAt: expect.any(String), expiresAt: null },
            { key: 's/d', valueJson: '"old"', version: 1, updatedAt: expect.any(String), expiresAt: null },
            {
              key: 's/e',
              valueJson: '"later"',
              version: 1,
              updatedAt: expect.any(String),
              expiresAt: '2100-01-01T00:00:00.000Z',
            },
          ]);
        } finally {
          await snapshot.close();
        }
        expect((await rowsOf(backups, 's/')).rows.map((r) => `${r.key}@${r.version}`)).toEqual([
          's/a@2',
          's/aa@1',
          's/d@2',
          's/e@1',
        ]);
      });

      it('should page through many keys exactly once each, and match a prefix literally', async () => {
        const keys = Array.from({ length: 300 }, (_, i) => `p%_/${String(i).padStart(3, '0')}`);
        await kv.applyBatch(keys.map((key) => put(key, { key, pad: 'x'.repeat(100) })));
        await kv.applyBatch([put('pX_/not-under-the-prefix', 1), put('p%_', 'the prefix itself')]);
        const { keys: count, rows } = await rowsOf(backups, 'p%_/');
        expect(count).toBe(300);
        expect(rows.map((r) => r.key)).toEqual(keys);
        expect((await rowsOf(backups, 'p%_')).keys).toBe(301);
      });
    });

    describe('restore', () => {
      it('should insert keys that do not exist with their versions and values, exactly as written', async () => {
        const restored = await backups.restore([
          { key: 'r/a', text: line('r/a', '{"n": 1.50, "big": 1e21, "s": "☃ 𝄞", "deep": [[{"x": null}]]}', 7) },
          { key: 'r/b', text: line('r/b', '"b"', 3, '2100-01-01T00:00:00.000Z') },
        ]);
        expect(restored).toEqual([
          {
            key: 'r/a',
            valueJson: '{"n": 1.50, "s": "☃ 𝄞", "big": 1000000000000000000000, "deep": [[{"x": null}]]}',
            version: 7,
            updatedAt: '2026-11-20T08:00:00.000Z',
            expiresAt: null,
          },
          {
            key: 'r/b',
            valueJson: '"b"',
            version: 3,
            updatedAt: '2026-11-20T08:00:00.000Z',
            expiresAt: '2100-01-01T00:00:00.000Z',
          },
        ]);
        expect(await kv.find('r/a', { strong: true })).toMatchObject({ version: 7, deleted: false });
        // The write path continues from the restored version.
        expect((await kv.applyBatch([put('r/a', 'next')])).ops[0]?.version).toBe(8);
      });

      it('should leave alone a key that exists in any form: live, a tombstone, a compacted tombstone', async () => {
        await kv.applyBatch([put('x/live', 'live'), put('x/dead', 1), del('x/dead'), put('x/gone', 1), del('x/gone')]);
        await pool.query(`UPDATE kv_entries SET updated_at = now() - interval '30 days' WHERE key = 'x/gone'`);
        expect(await kv.compactTombstones(new Date(Date.now() - 86_400_000))).toBeGreaterThanOrEqual(1);
        const restored = await backups.restore(
          ['x/live', 'x/dead', 'x/gone', 'x/new'].map((key) => ({ key, text: line(key, '"restored"', 1) })),
        );
        expect(restored.map((r) => r.key)).toEqual(['x/new']);
        expect(await kv.find('x/live', { strong: true })).toMatchObject({ valueJson: '"live"', version: 1 });
        expect(await kv.find('x/dead', { strong: true })).toMatchObject({ deleted: true, version: 2 });
        expect(await kv.find('x/gone', { strong: true })).toBeUndefined();
        expect(await backups.restore([{ key: 'x/new', text: line('x/new', '"again"', 9) }])).toEqual([]);
      });
    });
  });
}
