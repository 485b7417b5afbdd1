import { describe, expect, it } from 'vitest';
import { shardOf, shardQueueName } from '@keyflow/contracts';
import { FakeDeadLetterQueue, FakeReplayStore } from '@keyflow/dead-letters/testing';
import type { ApiConfig } from '../config/api.config';
import { DeadLettersService } from './dead-letters.service';

const opId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const letter = (n: number, key = `k${n}`) => ({
  v: 1,
  id: opId(n),
  key,
  type: 'put',
  value: n,
  acceptedAt: '2026-11-23T10:00:00.000Z',
});
const config = { KV_SHARDS: 16 } as ApiConfig;

function serviceWith(queue: FakeDeadLetterQueue, store = new FakeReplayStore()) {
  let opened = 0;
  const service = new DeadLettersService(
    () => {
      opened++;
      return Promise.resolve(queue);
    },
    store,
    config,
  );
  return { service, store, opened: () => opened };
}

describe(DeadLettersService.name, () => {
  describe('list', () => {
    it('should give a page of letters and the total, leaving every letter in the queue', async () => {
      const queue = new FakeDeadLetterQueue([1, 2, 3, 4].map((n) => letter(n)));
      const { service } = serviceWith(queue);
      const page = await service.list(1, 2);
      expect(page).toMatchObject({ total: 4, offset: 1 });
      expect(page.items.map((l) => l.operationId)).toEqual([opId(2), opId(3)]);
      expect(page.items[0]).toMatchObject({ key: 'k2', type: 'put', acceptedAt: '2026-11-23T10:00:00.000Z' });
      expect(queue.removed).toEqual([]);
    });

    it('should answer an empty queue with no items', async () => {
      const { service } = serviceWith(new FakeDeadLetterQueue([]));
      await expect(service.list(0, 20)).resolves.toEqual({ total: 0, offset: 0, items: [] });
    });
  });

  describe('replay', () => {
    it('should put a replayable letter back on its shard queue and remove it', async () => {
      const queue = new FakeDeadLetterQueue([letter(1, 'user:1'), letter(2)]);
      const { service } = serviceWith(queue);
      const outcome = await service.replay(opId(1));
      expect(outcome.result).toBe('replayed');
      expect(outcome.messages.join('\n')).toContain(`replayed ${opId(1)}`);
      expect(queue.published).toEqual([expect.objectContaining({ queue: shardQueueName(shardOf('user:1', 16)) })]);
      expect(queue.removed).toEqual([opId(1)]);
    });

    it('should refuse a letter whose key was written since, and keep it', async () => {
      const queue = new FakeDeadLetterQueue([letter(1, 'user:1')]);
      const store = new FakeReplayStore();
      store.lastWrites.set('user:1', {
        key: 'user:1',
        valueJson: '"newer"',
        version: 7,
        deleted: false,
        updatedAt: '2026-11-23T10:31:00.000Z',
        lastOperationId: opId(9),
        lastAcceptedAt: '2026-11-23T10:30:00.000Z',
      });
      const outcome = await serviceWith(queue, store).service.replay(opId(1));
      expect(outcome.result).toBe('refused');
      expect(outcome.messages[0]).toMatch(new RegExp(`^refused ${opId(1)}: `));
      expect(queue.removed).toEqual([]);
      expect(queue.published).toEqual([]);
    });

    it('should say when no letter has that operation', async () => {
      const { service } = serviceWith(new FakeDeadLetterQueue([letter(1)]));
      await expect(service.replay(opId(5))).rejects.toMatchObject({
        code: 'operation-not-found',
        message: `no dead letter for operation ${opId(5)}`,
      });
    });
  });

  it('should run one call at a time, each on a queue of its own', async () => {
    const queue = new FakeDeadLetterQueue([1, 2].map((n) => letter(n)));
    const { service, opened } = serviceWith(queue);
    const [a, b] = await Promise.all([service.list(0, 1), service.list(0, 1)]);
    expect(a.items).toEqual(b.items);
    expect(opened()).toBe(2);
  });
});
