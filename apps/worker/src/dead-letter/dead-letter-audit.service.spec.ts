import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEAD_LETTER_AUDIT_QUEUE } from '@keyflow/contracts';
import type { OperationRepository } from '@keyflow/db';
import { pollUntil } from '@keyflow/testing';
import type { OutcomeNotifier } from '../apply/outcome-notifier.service';
import { watchProcessErrors } from '@keyflow/testing';
import { FakeConnectionManager } from '../apply/testing/fake-amqp';
import type { WorkerConfig } from '../config/worker.config';
import { DeadLetterAuditor, deadLetterReason } from './dead-letter-audit.service';

const deadLetter = {
  v: 1,
  id: '5e2b7c1a-9d3f-4a6e-8b0c-1f4d7a2e9c36',
  key: 'k',
  type: 'put',
  acceptedAt: '2026-11-23T10:00:00.000Z',
};

function until(condition: () => boolean, what: string): Promise<boolean> {
  return pollUntil(() => Promise.resolve(condition()), Boolean, { what, timeoutMs: 5_000, intervalMs: 5 });
}

describe(DeadLetterAuditor.name, () => {
  let amqp: FakeConnectionManager;
  let watch: ReturnType<typeof watchProcessErrors>;
  let warnings: string[];
  let recordFailed: ReturnType<typeof vi.fn>;
  let auditor: DeadLetterAuditor;

  beforeEach(() => {
    watch = watchProcessErrors();
    warnings = [];
    vi.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    amqp = new FakeConnectionManager();
    recordFailed = vi.fn(() => Promise.resolve());
    auditor = new DeadLetterAuditor(
      amqp.manager,
      { KV_SHARDS: 1, QUEUE_REPLICAS: 1 } as WorkerConfig,
      { recordFailed } as unknown as OperationRepository,
      { notify: () => undefined } as unknown as OutcomeNotifier,
    );
  });

  afterEach(async () => {
    await auditor.beforeApplicationShutdown();
    await amqp.close();
    watch.stop();
    vi.restoreAllMocks();
  });

  describe('audit', () => {
    it('should not end the process when its channel closed before a dead letter it could not record is requeued', async () => {
      recordFailed.mockRejectedValueOnce(new Error('Connection terminated unexpectedly'));
      await auditor.start();
      amqp.broker.publish(DEAD_LETTER_AUDIT_QUEUE, deadLetter, {
        headers: { 'x-first-death-reason': 'delivery_limit' },
      });
      await until(() => recordFailed.mock.calls.length === 1, 'the first attempt to record the dead letter');

      // The channel goes before the requeue timer fires: the broker redelivers, on the re-opened channel.
      const first = amqp.broker.consumerOf(DEAD_LETTER_AUDIT_QUEUE)!;
      first.closeByBroker('Channel closed by server: 541 (INTERNAL_ERROR)');
      await until(() => warnings.some((w) => w.startsWith('could not requeue')), 'the requeue timer');
      await until(() => amqp.broker.consumerOf(DEAD_LETTER_AUDIT_QUEUE)?.acked.length === 1, 'the redelivery acked');

      expect(watch.errors).toEqual([]);
      expect(recordFailed).toHaveBeenCalledTimes(2);
      expect(warnings).toEqual(
        expect.arrayContaining([
          `could not record dead letter ${deadLetter.id}, will retry: Connection terminated unexpectedly`,
          'could not requeue delivery 1; the broker will redeliver it: Channel closed',
        ]),
      );
    });
  });
});

describe(deadLetterReason.name, () => {
  it('should name the delivery limit the broker applied: the legacy argument, or a policy', () => {
    const headers = { 'x-first-death-reason': 'delivery_limit' as const, 'x-first-death-queue': 'kv.shard.3' };
    expect(deadLetterReason(headers, new Set(['kv.shard.3']))).toBe(
      'dead-lettered from kv.shard.3: delivered 5 times without being applied (x-delivery-limit)',
    );
    expect(deadLetterReason(headers)).toBe(
      'dead-lettered from kv.shard.3: delivered more often than its delivery-limit policy allows, without being applied',
    );
    expect(deadLetterReason({ 'x-first-death-reason': 'rejected', 'x-first-death-queue': 'kv.shard.3' })).toBe(
      'dead-lettered from kv.shard.3: rejected by a worker',
    );
  });
});
