import { describe, expect, it, vi } from 'vitest';
import type { KvCache } from '@keyflow/cache';
import type { WriteMessage } from '@keyflow/contracts';
import type { KvRepository, OperationRepository, WriteOp } from '@keyflow/db';
import { WriteApplier } from './write-applier.service';

const put = (id: string, value: unknown): WriteMessage => ({
  v: 1,
  id,
  key: 'k',
  type: 'put',
  value,
  acceptedAt: '2026-11-23T10:00:00.000Z',
});

function setup(applyBatch: (ops: WriteOp[]) => Promise<unknown>) {
  const repository = { applyBatch: vi.fn(applyBatch) };
  const applier = new WriteApplier(repository as unknown as KvRepository, {} as OperationRepository, {} as KvCache);
  return { applier, repository };
}

describe(WriteApplier.name, () => {
  describe('applyToDatabase', () => {
    it('should apply a batch in one call with the values as JSON text', async () => {
      const { applier, repository } = setup(() => Promise.resolve({ ops: [], entries: [] }));
      await applier.applyToDatabase([put('a', { x: 1 }), put('b', null)]);
      expect(repository.applyBatch).toHaveBeenCalledOnce();
      expect(repository.applyBatch.mock.calls[0]?.[0].map((op) => op.valueJson)).toEqual(['{"x":1}', 'null']);
    });

    it('should rethrow transient errors for the caller to retry the batch', async () => {
      const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const { applier } = setup(() => Promise.reject(down));
      await expect(applier.applyToDatabase([put('a', 1), put('b', 2)])).rejects.toBe(down);
    });

    it('should isolate an operation the database refuses for good', async () => {
      const refused = Object.assign(new Error('value out of range'), { code: '22003' });
      const { applier, repository } = setup((ops) =>
        ops.some((op) => op.id === 'bad')
          ? Promise.reject(refused)
          : Promise.resolve({ ops: ops.map((op) => ({ ...op, version: 1, duplicate: false })), entries: [] }),
      );
      const outcome = await applier.applyToDatabase([put('a', 1), put('bad', 2), put('c', 3)]);
      expect(outcome.applied.map((a) => a.id)).toEqual(['a', 'c']);
      expect(outcome.rejected).toEqual([
        { message: put('bad', 2), reason: 'the database rejected the write: value out of range' },
      ]);
      expect(repository.applyBatch).toHaveBeenCalledTimes(4);
    });
  });
});
