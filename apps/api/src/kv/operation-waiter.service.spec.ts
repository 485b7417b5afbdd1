import { EventEmitter } from 'node:events';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiConfig } from '../config/api.config';
import { OperationWaiter } from './operation-waiter.service';

/** A connection that never connects: enough to register waiters, which is all the cap concerns. */
class IdleConnection extends EventEmitter {
  createChannel() {
    return Object.assign(new EventEmitter(), {
      close: () => Promise.resolve(),
      waitForConnect: () => Promise.resolve(),
    });
  }
}

describe(OperationWaiter.name, () => {
  let waiter: OperationWaiter | undefined;

  afterEach(async () => {
    await waiter?.beforeApplicationShutdown();
  });

  function setup(maxWaiters: number): OperationWaiter {
    const config = { KEYFLOW_INSTANCE: 'api-test', MAX_PREFER_WAITERS: maxWaiters } as ApiConfig;
    waiter = new OperationWaiter(new IdleConnection() as unknown as AmqpConnectionManager, config);
    return waiter;
  }

  describe('waitFor', () => {
    it('should hold at most MAX_PREFER_WAITERS waiters, and none beyond: those writes do not wait', async () => {
      const w = setup(2);
      const first = w.waitFor('op-1', 60_000);
      const second = w.waitFor('op-2', 60_000);
      expect(first).toBeDefined();
      expect(second).toBeDefined();
      expect(w.waitFor('op-3', 60_000)).toBeUndefined();

      // A waiter that ends makes room for the next one.
      first?.cancel();
      await expect(first?.outcome).resolves.toBeUndefined();
      expect(w.waitFor('op-4', 60_000)).toBeDefined();
    });

    it('should let no write wait when the limit is 0', () => {
      expect(setup(0).waitFor('op-1', 1_000)).toBeUndefined();
    });
  });
});
