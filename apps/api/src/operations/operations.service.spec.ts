import { describe, expect, it, vi } from 'vitest';
import type { AcceptedOperation, OperationTracker } from '@keyflow/cache';
import { ErrorCode } from '@keyflow/contracts';
import type { OperationRecord, OperationRepository } from '@keyflow/db';
import { OperationsService } from './operations.service';

const ID = '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b';
const ALICE = { userId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', admin: false };
const BOB = { userId: '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e', admin: false };
const ADMIN = { userId: '2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f', admin: true };
const operation = { id: ID, key: 'k', type: 'put' as const, acceptedAt: '2026-11-23T10:00:00.000Z' };
const accepted: AcceptedOperation = { ...operation, owner: ALICE.userId };
const answer = { ...operation, status: 'applied', version: 4, finishedAt: '2026-11-23T10:00:00.050Z' } as const;
const finished: OperationRecord = { ...answer, ownerId: ALICE.userId };

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
      await expect(service.find(ID, ALICE)).resolves.toEqual(answer);
      expect(tracker.findAccepted).not.toHaveBeenCalled();
    });

    it('should answer accepted from the tracker until a worker records the outcome', async () => {
      const { service } = setup({ tracked: accepted });
      await expect(service.find(ID, ALICE)).resolves.toEqual({ ...operation, status: 'accepted' });
    });

    it("should answer another user's operation exactly as an unknown one, whichever store holds it", async () => {
      for (const stores of [{ db: finished, tracked: accepted }, { tracked: accepted }]) {
        const { service } = setup(stores);
        await expect(service.find(ID, BOB)).rejects.toMatchObject({
          code: ErrorCode.OPERATION_NOT_FOUND,
          message: `no operation with id ${ID} is known`,
        });
        await expect(service.find(ID, ADMIN)).resolves.toMatchObject({ id: ID });
      }
    });

    it('should keep an operation without a recorded owner to admins', async () => {
      const { service } = setup({ db: answer });
      await expect(service.find(ID, ALICE)).rejects.toMatchObject({ code: ErrorCode.OPERATION_NOT_FOUND });
      await expect(service.find(ID, ADMIN)).resolves.toEqual(answer);
    });

    it('should answer 404 only when neither store knows the operation', async () => {
      const { service } = setup();
      await expect(service.find(ID, ALICE)).rejects.toMatchObject({ code: ErrorCode.OPERATION_NOT_FOUND });
    });

    it('should answer 503, not 404, when the tracker cannot be read', async () => {
      const { service } = setup({ tracked: new Error('CLUSTERDOWN The cluster is down') });
      await expect(service.find(ID, ALICE)).rejects.toMatchObject({
        code: ErrorCode.BROKER_UNAVAILABLE,
        details: { retryAfterSeconds: 1 },
      });
    });

    it('should answer 503 when the database is unavailable', async () => {
      const { service } = setup({
        db: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        tracked: accepted,
      });
      await expect(service.find(ID, ALICE)).rejects.toMatchObject({ code: ErrorCode.DATABASE_UNAVAILABLE });
    });
  });
});
