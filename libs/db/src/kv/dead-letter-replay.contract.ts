import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import { runMigrations } from '../migrations/migration.service';
import { OperationRepository } from '../operations/operation.repository';
import { KvRepository, ReplayRefusedError, type WriteOp } from './kv.repository';

const T0 = '2026-11-23T10:00:00.000Z';
const T1 = '2026-11-23T10:05:00.000Z';
const put = (key: string, value: unknown, acceptedAt = T0, id = randomUUID()): WriteOp => ({
  id,
  key,
  type: 'put',
  valueJson: JSON.stringify(value),
  acceptedAt,
});
const del = (key: string, acceptedAt = T0, id = randomUUID()): WriteOp => ({ id, key, type: 'delete', acceptedAt });
const unique = (what: string) => `${what}-${randomUUID()}`;
const soon = () => new Date(Date.now() + 60_000);

/**
 * Dead-letter replay, retention and tombstone compaction against a real database: what `npm run dlq -- replay`
 * and the worker's retention rely on. Run against PostgreSQL (the stack) and, when given one, CockroachDB.
 */
export function describeDeadLetterReplayContract(databaseUrl: () => string): void {
  describe('dead letters, replay and compaction', () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    let kv: KvRepository;
    let operations: OperationRepository;

    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(databaseUrl(), 'dlq'));
      await runMigrations(pool);
      kv = new KvRepository(pool);
      operations = new OperationRepository(pool);
    });
    afterAll(() => drop());

    describe(`${KvRepository.name}.applyBatch of a dead-lettered operation`, () => {
      it('should apply a replay the operator checked while the key is at the checked version', async () => {
        const key = unique('replay-ok');
        await kv.applyBatch([put(key, 'before')]);
        const letter = put(key, 'replayed');
        await operations.recordFailed(letter, 'poison');
        expect(await operations.authorizeReplay(letter, 1)).toEqual(expect.any(String));

        const result = await kv.applyBatch([letter]);

        expect(result.ops[0]).toMatchObject({ status: 'applied', version: 2, duplicate: false });
        expect(await operations.find(letter.id)).toMatchObject({ status: 'applied', version: 2 });
        expect(await kv.find(key, { strong: true })).toMatchObject({ valueJson: '"replayed"', version: 2 });
      });

      it('should refuse a checked replay once the key moved past the checked version, writing nothing', async () => {
        const key = unique('replay-moved');
        await kv.applyBatch([put(key, 'before')]);
        const letter = put(key, 'old');
        await operations.recordFailed(letter, 'poison');
        await operations.authorizeReplay(letter, 1);
        await kv.applyBatch([put(key, 'newer', T1)]);

        await expect(kv.applyBatch([letter])).rejects.toBeInstanceOf(ReplayRefusedError);

        expect(await kv.find(key, { strong: true })).toMatchObject({ valueJson: '"newer"', version: 2 });
        expect(await operations.find(letter.id)).toMatchObject({ status: 'failed' });
      });

      it('should refuse a dead-lettered operation that comes back after a write accepted later than it', async () => {
        const key = unique('replay-unchecked');
        const letter = put(key, 'old', T0);
        await operations.recordFailed(letter, 'poison');
        await kv.applyBatch([put(key, 'newer', T1)]);

        await expect(kv.applyBatch([letter])).rejects.toThrow(
          `replay of operation ${letter.id} refused: its key is at version 1, written by an operation accepted at ${T1}, after this one (${T0})`,
        );
      });

      it("should not apply an operation again when its record was pruned but it is still the key's last write", async () => {
        const key = unique('pruned');
        const op = put(key, 'once');
        await kv.applyBatch([op]);
        await pool.query('DELETE FROM kv_operations WHERE id = $1::UUID', [op.id]);

        const again = await kv.applyBatch([op]);

        expect(again.ops[0]).toMatchObject({ status: 'applied', version: 1, duplicate: true });
        expect(await kv.find(key, { strong: true })).toMatchObject({ version: 1 });
      });
    });

    describe(`${OperationRepository.name} and dead letters`, () => {
      it('should keep every operation whose dead letter still exists past the retention, applied or failed', async () => {
        const applied = put(unique('kept-applied'), 1);
        await kv.applyBatch([applied]);
        await operations.recordFailed(applied, 'dead-lettered after it was applied (delivery limit)');
        const failed = put(unique('kept-failed'), 1);
        await operations.recordFailed(failed, 'poison');

        while ((await operations.deleteFinishedBefore(soon(), 1_000)) > 0);

        expect(await operations.find(applied.id)).toMatchObject({ status: 'applied', version: 1 });
        expect(await operations.find(failed.id)).toMatchObject({ status: 'failed', error: 'poison' });

        for (const op of [applied, failed]) {
          const mark = (await operations.findDeadLetterState(op.id))?.deadLetteredAt ?? '';
          expect(await operations.deadLetterRemoved(op.id, mark)).toBe(true);
        }
        while ((await operations.deleteFinishedBefore(soon(), 1_000)) > 0);
        expect(await operations.find(applied.id)).toBeUndefined();
        expect(await operations.find(failed.id)).toBeUndefined();
      });

      it('should not clear a dead-letter mark that changed since it was read (the operation was dead-lettered again)', async () => {
        const op = put(unique('marked-again'), 1);
        await operations.recordFailed(op, 'poison');
        const first = (await operations.findDeadLetterState(op.id))?.deadLetteredAt ?? '';
        await new Promise((resolve) => setTimeout(resolve, 5));
        await operations.recordFailed(op, 'poison again');

        expect(await operations.deadLetterRemoved(op.id, first)).toBe(false);
        expect((await operations.findDeadLetterState(op.id))?.deadLetteredAt).not.toBe(first);
      });

      it('should authorize a replay only of an operation without an outcome, recording one that was not recorded yet', async () => {
        const applied = put(unique('authorize-applied'), 1);
        await kv.applyBatch([applied]);
        expect(await operations.authorizeReplay(applied, 1)).toBeUndefined();

        const unrecorded = put(unique('authorize-new'), 1);
        const mark = await operations.authorizeReplay(unrecorded, 0);
        expect(await operations.findDeadLetterState(unrecorded.id)).toEqual({
          id: unrecorded.id,
          key: unrecorded.key,
          status: 'failed',
          deadLetteredAt: mark,
          replayAtVersion: 0,
        });
      });

      it('should take the reason of a replay that failed again and forget its authorization', async () => {
        const op = put(unique('failed-again'), 1);
        await operations.recordFailed(op, 'poison');
        await operations.authorizeReplay(op, 0);
        await operations.recordFailed(op, 'replay refused: written since');
        // The audit queue's copy of the same dead letter comes later, with a vaguer reason: it changes nothing.
        await operations.recordFailed(op, 'dead-lettered from kv.shard.0: rejected by a worker');

        expect(await operations.find(op.id)).toMatchObject({
          status: 'failed',
          error: 'replay refused: written since',
        });
        expect((await operations.findDeadLetterState(op.id))?.replayAtVersion).toBeUndefined();
      });
    });

    describe(`${KvRepository.name}.findLastWrite`, () => {
      it('should tell which operation wrote a key last and when that operation was accepted', async () => {
        const key = unique('last-write');
        const op = put(key, { a: 1 }, T1);
        await kv.applyBatch([put(key, 0, T0), op]);
        expect(await kv.findLastWrite(key)).toEqual({
          key,
          valueJson: '{"a": 1}',
          version: 2,
          deleted: false,
          updatedAt: expect.any(String) as string,
          lastOperationId: op.id,
          lastAcceptedAt: T1,
        });
        expect(await kv.findLastWrite(unique('never'))).toBeUndefined();
      });
    });

    describe(`${KvRepository.name}.compactTombstones`, () => {
      it('should remove tombstones older than the cut-off, and a re-created key continues from its last version', async () => {
        const key = unique('compacted');
        await kv.applyBatch([put(key, 1), del(key)]);

        while ((await kv.compactTombstones(soon(), 1_000)) > 0);
        expect(await kv.find(key, { strong: true })).toBeUndefined();

        const recreated = await kv.applyBatch([put(key, 'again')]);
        expect(recreated.ops[0]).toMatchObject({ status: 'applied', version: 3, created: true });
        expect(await kv.find(key, { strong: true })).toMatchObject({ valueJson: '"again"', version: 3 });
        // Written again, the key is a row again: its compacted record is gone, and a delete continues too.
        expect((await kv.applyBatch([del(key)])).ops[0]?.version).toBe(4);
        while ((await kv.compactTombstones(soon(), 1_000)) > 0);
        expect((await kv.applyBatch([put(key, 'third life')])).ops[0]?.version).toBe(5);
      });

      it('should leave keys that were never written at version 1', async () => {
        while ((await kv.compactTombstones(soon(), 1_000)) > 0);
        expect((await kv.applyBatch([put(unique('fresh'), 1)])).ops[0]?.version).toBe(1);
      });

      it('should keep showing a compacted key as deleted at its last version, to conditions and to replay checks', async () => {
        const key = unique('compacted-conditions');
        await kv.applyBatch([put(key, 1), put(key, 2), del(key, T1)]);
        while ((await kv.compactTombstones(soon(), 1_000)) > 0);

        const stale = await kv.applyBatch([{ ...put(key, 'stale'), condition: { kind: 'version', version: 2 } }]);
        expect(stale.ops[0]).toMatchObject({ status: 'conflict', version: 3 });
        expect(await kv.findLastWrite(key)).toEqual({
          key,
          valueJson: null,
          version: 3,
          deleted: true,
          updatedAt: expect.any(String) as string,
          lastOperationId: null,
          lastAcceptedAt: null,
        });
        const absent = await kv.applyBatch([{ ...put(key, 'new'), condition: { kind: 'absent' } }]);
        expect(absent.ops[0]).toMatchObject({ status: 'applied', version: 4, created: true });
      });

      it('should keep tombstones newer than the cut-off, and live keys', async () => {
        const tombstone = unique('recent-tombstone');
        const live = unique('live');
        await kv.applyBatch([put(tombstone, 1), del(tombstone), put(live, 1)]);

        await kv.compactTombstones(new Date(Date.now() - 60_000), 1_000);

        expect(await kv.find(tombstone, { strong: true })).toMatchObject({ deleted: true, version: 2 });
        expect(await kv.find(live, { strong: true })).toMatchObject({ deleted: false, version: 1 });
        while ((await kv.compactTombstones(soon(), 1_000)) > 0);
        expect(await kv.find(live, { strong: true })).toMatchObject({ deleted: false, version: 1 });
      });

      it('should keep the tombstone of a key that has a dead letter, so a replay can tell it was deleted since', async () => {
        const key = unique('tombstone-with-letter');
        const letter = put(key, 'old', T0);
        await kv.applyBatch([put(key, 1, T0), del(key, T1)]);
        await operations.recordFailed(letter, 'poison');

        while ((await kv.compactTombstones(soon(), 1_000)) > 0);

        expect(await kv.findLastWrite(key)).toMatchObject({ deleted: true, version: 2, lastAcceptedAt: T1 });
      });

      it('should compact in bounded chunks', async () => {
        const keys = [unique('chunk'), unique('chunk'), unique('chunk')];
        await kv.applyBatch(keys.flatMap((k) => [put(k, 1), del(k)]));

        expect(await kv.compactTombstones(soon(), 2)).toBe(2);
        while ((await kv.compactTombstones(soon(), 2)) > 0);
        for (const key of keys) expect(await kv.find(key, { strong: true })).toBeUndefined();
      });

      it('should continue from the last version when a key is re-created while its tombstone is being compacted', async () => {
        const key = unique('compaction-race');
        await kv.applyBatch([put(key, 1), put(key, 2), del(key)]);

        const [, recreated] = await Promise.all([
          kv.compactTombstones(soon(), 1_000),
          kv.applyBatch([put(key, 'back')]),
        ]);

        expect(recreated.ops[0]).toMatchObject({ status: 'applied', version: 4, created: true });
        expect(await kv.find(key, { strong: true })).toMatchObject({ deleted: false, valueJson: '"back"', version: 4 });
      });
    });
  });
}
