import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import { runMigrations } from '../migrations/migration.service';
import { OperationRepository } from '../operations/operation.repository';
import { KvRepository, type WriteOp } from '../kv/kv.repository';

const at = '2026-11-23T10:00:00.000Z';
const put = (key: string, value: unknown, id = randomUUID()): WriteOp => ({
  id,
  key,
  type: 'put',
  valueJson: JSON.stringify(value),
  acceptedAt: at,
});
const del = (key: string, id = randomUUID()): WriteOp => ({ id, key, type: 'delete', acceptedAt: at });

/** The repository's contract, run against PostgreSQL (the stack) and CockroachDB (when one is given). */
export function describeKvRepositoryContract(databaseUrl: () => string): void {
  describe(KvRepository.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    let repository: KvRepository;
    let operations: OperationRepository;

    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(databaseUrl(), 'kvrepo'));
      await runMigrations(pool);
      repository = new KvRepository(pool);
      operations = new OperationRepository(pool);
    });
    afterAll(() => drop());

    describe('applyBatch', () => {
      it('should raise the version by one per write, deletes included, and continue after a delete', async () => {
        const result = await repository.applyBatch([put('a', 1), put('a', { two: 2 }), del('a'), put('a', 'back')]);
        expect(result.ops.map((op) => op.version)).toEqual([1, 2, 3, 4]);
        expect(result.entries).toEqual([
          { key: 'a', valueJson: '"back"', version: 4, deleted: false, updatedAt: expect.any(String) },
        ]);
        await repository.applyBatch([del('a')]);
        expect(await repository.find('a', { strong: true })).toMatchObject({
          version: 5,
          deleted: true,
          valueJson: null,
        });
        expect((await repository.applyBatch([put('a', 6)])).ops[0]?.version).toBe(6);
      });

      it('should apply a batch in delivery order across keys', async () => {
        const result = await repository.applyBatch([put('x', 1), put('y', 1), put('x', 2), put('y', 2), put('x', 3)]);
        expect(result.ops.map((op) => `${op.key}@${op.version}`)).toEqual(['x@1', 'y@1', 'x@2', 'y@2', 'x@3']);
        expect(await repository.find('x')).toMatchObject({ valueJson: '3', version: 3 });
        expect(await repository.find('y')).toMatchObject({ valueJson: '2', version: 2 });
      });

      it('should take effect once when an operation is delivered again', async () => {
        const first = put('r', 'once');
        await repository.applyBatch([first]);
        const again = await repository.applyBatch([first, first, put('r', 'next')]);
        expect(again.ops.map((op) => [op.version, op.duplicate])).toEqual([
          [1, true],
          [1, true],
          [2, false],
        ]);
        expect(await repository.find('r', { strong: true })).toMatchObject({ valueJson: '"next"', version: 2 });
      });

      it('should report a redelivered operation at the version and time it was first applied (the change stream)', async () => {
        const first = put('t', 'once');
        const applied = await repository.applyBatch([first]);
        const again = await repository.applyBatch([first]);
        const [entry] = applied.entries;
        expect(applied.ops[0]?.updatedAt).toBe(entry?.updatedAt);
        expect(again.ops.map((op) => [op.version, op.duplicate, op.updatedAt])).toEqual([[1, true, entry?.updatedAt]]);
      });

      it('should record each applied operation', async () => {
        const op = put('o', { deep: [1, { n: null }] });
        await repository.applyBatch([op]);
        expect(await operations.find(op.id)).toEqual({
          id: op.id,
          key: 'o',
          type: 'put',
          status: 'applied',
          version: 1,
          acceptedAt: at,
          finishedAt: expect.any(String),
        });
      });

      it('should keep JSON values exactly, unicode and large numbers included', async () => {
        const value = { s: 'héllo 🙂 \u2028', n: 1.5e300, a: [true, false, null], e: {} };
        await repository.applyBatch([put('json', value)]);
        const entry = await repository.find('json');
        expect(JSON.parse(entry?.valueJson ?? 'null')).toEqual(value);
      });
    });

    describe('concurrent batches', () => {
      it('should keep every write when several batches for one key race (40001 retried)', async () => {
        const batches = Array.from({ length: 4 }, (_, i) => [put('race', i)]);
        await Promise.all(batches.map((batch) => repository.applyBatch(batch)));
        expect(await repository.find('race', { strong: true })).toMatchObject({ version: 4 });
      });

      // Two consumers on one shard only overlap during a failover, and then they may hold the same delivery.
      it.each([
        ['a new key', false],
        ['an existing key', true],
      ])('should apply one operation delivered to racing batches exactly once, on %s', async (_what, exists) => {
        const key = `dup-race-${randomUUID()}`;
        if (exists) await repository.applyBatch([put(key, 'before')]);
        const op = put(key, 'once');
        const results = await Promise.all(Array.from({ length: 4 }, () => repository.applyBatch([op])));
        expect(await repository.find(key, { strong: true })).toMatchObject({ version: exists ? 2 : 1 });
        expect(results.map((r) => r.ops[0]?.duplicate).filter((d) => !d)).toHaveLength(1);
      });

      it('should let exactly one of racing create-if-absent writes win', async () => {
        const key = `create-race-${randomUUID()}`;
        const results = await Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            repository.applyBatch([{ ...put(key, i), condition: { kind: 'absent' } }]),
          ),
        );
        expect(results.map((r) => r.ops[0]?.status).sort()).toEqual(['applied', 'conflict', 'conflict', 'conflict']);
        expect(await repository.find(key, { strong: true })).toMatchObject({ version: 1 });
      });
    });

    describe('recordFailed', () => {
      it('should record a failure but never overwrite an applied operation', async () => {
        const op = put('f', 1);
        await operations.recordFailed(op, 'poison');
        expect(await operations.find(op.id)).toMatchObject({ status: 'failed', error: 'poison' });
        const applied = put('g', 1);
        await repository.applyBatch([applied]);
        await operations.recordFailed(applied, 'late');
        expect(await operations.find(applied.id)).toMatchObject({ status: 'applied', version: 1 });
      });
    });

    describe('deleteFinishedBefore', () => {
      it('should remove only operations finished before the cut-off, in bounded chunks', async () => {
        const old = put('retention', 1);
        await repository.applyBatch([old]);
        const cutoff = new Date(Date.now() + 1_000);
        expect(await operations.deleteFinishedBefore(new Date(Date.now() - 60_000))).toBe(0);
        const removed = await operations.deleteFinishedBefore(cutoff, 1);
        expect(removed).toBe(1);
        while ((await operations.deleteFinishedBefore(cutoff, 1_000)) > 0);
        expect(await operations.find(old.id)).toBeUndefined();
      });
    });

    describe('conditions', () => {
      it('should check conditions in order within one batch and record conflicts without writing', async () => {
        const first: WriteOp = { ...put('cond', 'a'), condition: { kind: 'absent' } };
        const again: WriteOp = { ...put('cond', 'b'), condition: { kind: 'absent' } };
        const match: WriteOp = { ...put('cond', 'c'), condition: { kind: 'version', version: 1 } };
        const stale: WriteOp = { ...put('cond', 'd'), condition: { kind: 'version', version: 1 } };
        const result = await repository.applyBatch([first, again, match, stale]);
        expect(result.ops.map((o) => [o.status, o.version, o.created])).toEqual([
          ['applied', 1, true],
          ['conflict', 1, false],
          ['applied', 2, false],
          ['conflict', 2, false],
        ]);
        expect(await operations.find(stale.id)).toMatchObject({ status: 'conflict', version: 2 });
        expect(await repository.find('cond', { strong: true })).toMatchObject({ valueJson: '"c"', version: 2 });
      });

      it('should apply a replayed operation that was recorded failed', async () => {
        const op = put('replayed', 1);
        await operations.recordFailed(op, 'dead-lettered');
        const result = await repository.applyBatch([op]);
        expect(result.ops[0]).toMatchObject({ status: 'applied', version: 1, duplicate: false });
        expect(await operations.find(op.id)).toMatchObject({ status: 'applied', version: 1 });
        expect((await operations.find(op.id))?.error).toBeUndefined();
      });
    });

    describe('keys with a time to live', () => {
      const inSeconds = (s: number) => new Date(Date.now() + s * 1_000).toISOString();
      const expiring = (key: string, value: unknown, expiresAt: string): WriteOp => ({ ...put(key, value), expiresAt });
      const expire = (key: string, version: number): WriteOp => ({
        ...del(key),
        condition: { kind: 'version', version },
        cause: 'expire',
      });

      it('should store expiresAt with a put, and clear it with a put without one or a delete', async () => {
        const expiresAt = inSeconds(60);
        const result = await repository.applyBatch([expiring('ttl-a', 1, expiresAt)]);
        expect(result.entries).toEqual([
          { key: 'ttl-a', valueJson: '1', version: 1, deleted: false, updatedAt: expect.any(String), expiresAt },
        ]);
        expect(await repository.find('ttl-a', { strong: true })).toMatchObject({ version: 1, expiresAt });
        await repository.applyBatch([put('ttl-a', 2)]);
        expect(await repository.find('ttl-a', { strong: true })).not.toHaveProperty('expiresAt');
        await repository.applyBatch([expiring('ttl-a', 3, expiresAt), del('ttl-a')]);
        const deleted = await repository.find('ttl-a', { strong: true });
        expect(deleted).toMatchObject({ version: 4, deleted: true });
        expect(deleted).not.toHaveProperty('expiresAt');
      });

      it('should find expired live keys in (expiresAt, key) order, page by page, and nothing else', async () => {
        const past = new Date(Date.now() - 10_000).toISOString();
        const earlier = new Date(Date.now() - 20_000).toISOString();
        await repository.applyBatch([
          expiring('ttl-find-b', 1, past),
          expiring('ttl-find-a', 1, past),
          expiring('ttl-find-c', 1, earlier),
          expiring('ttl-find-later', 1, inSeconds(60)),
          expiring('ttl-find-gone', 1, past),
          put('ttl-find-never', 1),
        ]);
        await repository.applyBatch([del('ttl-find-gone')]);
        const mine = (keys: Array<{ key: string }>) => keys.filter((k) => k.key.startsWith('ttl-find-'));
        const all = mine(await repository.findExpired(new Date(), 1_000));
        expect(all).toEqual([
          { key: 'ttl-find-c', version: 1, expiresAt: earlier },
          { key: 'ttl-find-a', version: 1, expiresAt: past },
          { key: 'ttl-find-b', version: 1, expiresAt: past },
        ]);
        const pages: string[] = [];
        let after: { expiresAt: string; key: string } | undefined;
        for (;;) {
          const page = await repository.findExpired(new Date(), 1, after);
          if (page.length === 0) break;
          pages.push(...mine(page).map((k) => k.key));
          after = page[page.length - 1];
        }
        expect(pages).toEqual(['ttl-find-c', 'ttl-find-a', 'ttl-find-b']);
      });

      it('should treat an expired key as absent for conditions, and apply its expiry delete once, as one version', async () => {
        await repository.applyBatch([expiring('ttl-cond', 'old', new Date(Date.now() - 1_000).toISOString())]);
        const ifMatch: WriteOp = { ...put('ttl-cond', 'x'), condition: { kind: 'version', version: 1 } };
        const ifExists: WriteOp = { ...put('ttl-cond', 'x'), condition: { kind: 'exists' } };
        const result = await repository.applyBatch([ifMatch, ifExists]);
        expect(result.ops.map((o) => [o.status, o.version])).toEqual([
          ['conflict', 1],
          ['conflict', 1],
        ]);

        const expiry = expire('ttl-cond', 1);
        const applied = await repository.applyBatch([expiry, expiry]);
        expect(applied.ops.map((o) => [o.type, o.status, o.version, o.duplicate])).toEqual([
          ['delete', 'applied', 2, false],
          ['delete', 'applied', 2, true],
        ]);
        expect(applied.ops[0]?.cause).toBe('expire');
        expect(await repository.find('ttl-cond', { strong: true })).toMatchObject({ version: 2, deleted: true });
        expect((await repository.applyBatch([expiry])).ops[0]).toMatchObject({ version: 2, duplicate: true });
        expect(await operations.find(expiry.id)).toMatchObject({ type: 'delete', status: 'applied', version: 2 });
      });

      it('should create an expired key again with If-None-Match, and let the stale expiry delete conflict', async () => {
        await repository.applyBatch([expiring('ttl-again', 'old', new Date(Date.now() - 1_000).toISOString())]);
        const create: WriteOp = { ...put('ttl-again', 'new'), condition: { kind: 'absent' } };
        const result = await repository.applyBatch([create, expire('ttl-again', 1)]);
        expect(result.ops.map((o) => [o.status, o.version, o.created])).toEqual([
          ['applied', 2, true],
          ['conflict', 2, false],
        ]);
        const entry = await repository.find('ttl-again', { strong: true });
        expect(entry).toMatchObject({ valueJson: '"new"', version: 2, deleted: false });
        expect(entry).not.toHaveProperty('expiresAt');
      });
    });
  });
}
