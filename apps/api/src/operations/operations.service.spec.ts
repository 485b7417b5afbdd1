import { describe, expect, it, vi } from 'vitest';
import type { AcceptedOperation, OperationTracker } from '@keyflow/cache';
import { ErrorCode } from '@keyflow/contracts';
import type { OperationRecord, OperationRepository } from '@keyflow/db';
import { OperationsService } from './operations.service';

const ID = '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b';
const accepted: AcceptedOperation = { id: ID, key: 'k', type: 'put', acceptedAt: '2026-11-23T10:00:00.000Z' };
const finished: OperationRecord = {
  ...accepted,
  status: 'applied',
  version: 4,
  finishedAt: '2026-11-23T10:00:00.050Z',
};

function setup({ db, tracked }: { db?: OperationRecord | Error; tracked?: AcceptedOperation | Error } = {}) {
  const operations = {
    find: vi.fn(() => (db instanceof Error ? Promise.reject(db) : Promise.resolve(db))),
  };
  const tracker = {
    findAccepted: vi.fn(() => (tracked instanceof Error ? Promise.reject(tracked) : Promise.resolve(tracked))),
  };
  const service = new OperationsService(
    operations as unknown as OperationRepository,
    tracker as unknown as OperationTracker,
  );
  return { service, tracker };
}

describe(OperationsService.name, () => {
  describe('find', () => {
    it('should answer a finished operation from the database', async () => {
      const { service, tracker } = setup({ db: finished, tracked: accepted });
      await expect(service.find(ID)).resolves.toEqual(finished);
      expect(tracker.findAccepted).not.toHaveBeenCalled();
    });

    it('should answer accepted from the tracker until a worker records the outcome', async () => {
      const { service } = setup({ tracked: accepted });
      await expect(service.find(ID)).resolves.toEqual({ ...accepted, status: 'accepted' });
    });

    it('should answer 404 only when neither store knows the operation', async () => {
      const { service } = setup();
      await expect(service.find(ID)).rejects.toMatchObject({ code: ErrorCode.OPERATION_NOT_FOUND });
    });

    it('should answer 503, not 404, when the tracker cannot be read', async () => {
      const { service } = setup({ tracked: new Error('CLUSTERDOWN The cluster is down') });
      await expect(service.find(ID)).rejects.toMatchObject({
        code: ErrorCode.BROKER_UNAVAILABLE,
        details: { retryAfterSeconds: 1 },
      });
    });

    it('should answer 503 when the database is unavailable', async () => {
      const { service } = setup({
        db: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        tracked: accepted,
      });
      await expect(service.find(ID)).rejects.toMatchObject({ code: ErrorCode.DATABASE_UNAVAILABLE });
    });
  });
});
