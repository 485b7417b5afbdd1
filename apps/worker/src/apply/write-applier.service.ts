import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import { KvCache, OperationTracker, type AcceptedOperation, type CommittedEntry } from '@keyflow/cache';
import { NonRetryableWriteError, type WriteMessage } from '@keyflow/contracts';
import {
  isTransientDbError,
  KvRepository,
  OperationRepository,
  ReplayRefusedError,
  type BatchResult,
  type KvEntry,
  type WriteOp,
} from '@keyflow/db';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { REDIS } from '@keyflow/runtime';
import { FailedAttempts } from './failed-attempts.util';
import { valueJsonOf } from './value-json.util';

export interface ApplyOutcome {
  applied: BatchResult['ops'];
  /** Writes that can never be applied, with the reason; they go to the dead-letter queue. */
  rejected: Array<{ message: WriteMessage; reason: string }>;
  /**
   * Not settled yet, in order: a write whose attempt failed (and has attempts left), and every write after it,
   * which must not overtake it. The caller retries them after a backoff.
   */
  retry: WriteMessage[];
}

/**
 * SQLSTATE classes that say the write itself is wrong, so that it fails the same way every time: 22 data exception
 * (a value JSONB refuses, say), 23 integrity constraint violation, 54 program limit exceeded (too deeply nested).
 */
const REFUSED_FOR_GOOD = /^(22|23|54)/;

/** A failure that retrying the same write cannot change. */
function isNonRetryable(err: unknown): boolean {
  if (err instanceof NonRetryableWriteError || err instanceof ReplayRefusedError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && REFUSED_FOR_GOOD.test(code);
}

function toWriteOp(message: WriteMessage): WriteOp {
  return {
    id: message.id,
    key: message.key,
    type: message.type,
    ...(message.type === 'put' ? { valueJson: valueJsonOf(message) } : {}),
    ...(message.condition ? { condition: message.condition } : {}),
    acceptedAt: message.acceptedAt,
    ...(message.type === 'put' && message.expiresAt ? { expiresAt: message.expiresAt } : {}),
    ...(message.type === 'delete' && message.cause ? { cause: message.cause } : {}),
    ...(message.owner ? { owner: message.owner } : {}),
  };
}

function toCommitted(entry: KvEntry): CommittedEntry {
  return {
    key: entry.key,
    entry: entry.deleted
      ? { state: 'deleted', version: entry.version, updatedAt: entry.updatedAt }
      : {
          state: 'present',
          version: entry.version,
          valueJson: entry.valueJson ?? 'null',
          updatedAt: entry.updatedAt,
          ...(entry.expiresAt ? { expiresAt: entry.expiresAt } : {}),
        },
  };
}

/** The tracker record the API wrote when it accepted the operation, content for content. */
function toTracked({
  id,
  key,
  type,
  acceptedAt,
  owner,
}: Pick<WriteMessage, 'id' | 'key' | 'type' | 'acceptedAt' | 'owner'>) {
  return { id, key, type, acceptedAt, ...(owner ? { owner } : {}) } satisfies AcceptedOperation;
}

/**
 * Applies a shard's batch: one database transaction for the whole batch, then version-guarded cache updates.
 *
 * Failures, and what counts as an attempt:
 * - transient (the database or Redis unreachable, 40001 after its retries): thrown for the caller to retry the whole
 *   batch, for as long as it takes. Not counted: nothing is wrong with the writes. Retrying is safe because applying
 *   is idempotent by operation id.
 * - any other failure of a batch of several writes is not yet anyone's: the batch is split and its writes applied
 *   one by one, in order, to find the one that fails.
 * - a single write that fails for good (`isNonRetryable`: the database refuses its data, a refused replay): rejected
 *   at once, to be dead-lettered.
 * - a single write that fails otherwise: one failed attempt, counted per operation id (`FailedAttempts`, which
 *   survives restarts). Below `MAX_APPLY_ATTEMPTS` it is handed back with every write after it, to be retried
 *   after a backoff; at the limit it is rejected. The writes before it are applied and settled meanwhile.
 * Nothing else counts: a delivery that comes back after a restart or a shard hand-over was never attempted and
 * failed, so it can fail `MAX_APPLY_ATTEMPTS` times afresh.
 */
@Injectable()
export class WriteApplier {
  private readonly logger = new Logger(WriteApplier.name);
  private readonly tracker: OperationTracker;
  private readonly attempts: FailedAttempts;
  private readonly maxAttempts: number;

  constructor(
    private readonly repository: KvRepository,
    private readonly operations: OperationRepository,
    private readonly cache: KvCache,
    @Inject(REDIS) redis: Cluster,
    @Inject(WORKER_CONFIG) config: Pick<WorkerConfig, 'MAX_APPLY_ATTEMPTS'>,
  ) {
    this.tracker = new OperationTracker(redis);
    this.attempts = new FailedAttempts(redis, (err) =>
      this.logger.warn(`could not keep a failed-attempt count in Redis (counting in memory): ${err.message}`),
    );
    this.maxAttempts = config.MAX_APPLY_ATTEMPTS;
  }

  async applyToDatabase(messages: WriteMessage[]): Promise<ApplyOutcome & { entries: KvEntry[] }> {
    try {
      const result = await this.repository.applyBatch(messages.map(toWriteOp));
      const settled = new Set(result.ops.map((op) => op.id));
      await this.markFinished(messages.filter((m) => settled.has(m.id)));
      this.attempts.forget(messages.map((m) => m.id));
      return { applied: result.ops, entries: result.entries, rejected: [], retry: [] };
    } catch (err) {
      if (isTransientDbError(err)) throw err;
      const [only] = messages;
      if (only && messages.length === 1) return this.failed(only, err);
      this.logger.warn(`batch of ${messages.length} refused (${(err as Error).message}); applying one by one`);
      const outcome: ApplyOutcome & { entries: KvEntry[] } = { applied: [], entries: [], rejected: [], retry: [] };
      for (const [index, message] of messages.entries()) {
        const single = await this.applyToDatabase([message]);
        outcome.applied.push(...single.applied);
        outcome.entries.push(...single.entries);
        outcome.rejected.push(...single.rejected);
        if (single.retry.length > 0) {
          outcome.retry = messages.slice(index);
          break;
        }
      }
      return outcome;
    }
  }

  /** One write failed alone: rejected for good, or counted and handed back (see the class comment). */
  private async failed(message: WriteMessage, err: unknown): Promise<ApplyOutcome & { entries: KvEntry[] }> {
    const cause = err instanceof Error ? err.message : String(err);
    if (isNonRetryable(err)) {
      this.attempts.forget([message.id]);
      const reason = `the database rejected the write: ${cause}`;
      return { applied: [], entries: [], rejected: [{ message, reason }], retry: [] };
    }
    const failures = await this.attempts.record(message.id);
    if (failures >= this.maxAttempts) {
      this.attempts.forget([message.id]);
      const reason = `applying the write failed ${failures} times; the last time: ${cause}`;
      return { applied: [], entries: [], rejected: [{ message, reason }], retry: [] };
    }
    this.logger.warn(
      `applying write ${message.id} failed (attempt ${failures} of ${this.maxAttempts}), will retry: ${cause}`,
    );
    return { applied: [], entries: [], rejected: [], retry: [message] };
  }

  /**
   * Brings the cache to the committed state; an older cached version is replaced, a newer one kept. Resolves
   * only once a Redis replica holds the update (`KvCache.commit`), and rejects otherwise: the batch is then not
   * acked and the update is retried, so a Redis master failover cannot lose a cache update the broker was
   * told is done (the cache would serve the older version for up to an hour).
   */
  async updateCache(entries: KvEntry[]): Promise<void> {
    const { outOfMemory } = await this.cache.commit(entries.map(toCommitted));
    if (outOfMemory.length > 0) {
      this.logger.warn(`redis is out of memory: ${outOfMemory.length} keys were removed from the cache, not updated`);
    }
  }

  async recordFailed(
    message: Pick<WriteMessage, 'id' | 'key' | 'type' | 'acceptedAt' | 'owner'>,
    reason: string,
  ): Promise<void> {
    await this.operations.recordFailed(message, reason);
    await this.markFinished([message]);
  }

  /**
   * The outcomes are in the database now, which answers `GET /v1/operations/{id}` from here on: the operations'
   * records in Redis are cut from 24 h to a minute (see `OperationTracker`). Best effort: a record that is not
   * cut expires on its own, so a Redis failure here must not fail or retry the batch.
   */
  private async markFinished(messages: Array<Pick<WriteMessage, 'id' | 'key' | 'type' | 'acceptedAt' | 'owner'>>) {
    if (messages.length === 0) return;
    await this.tracker
      .markFinished(messages.map(toTracked))
      .catch((err: Error) =>
        this.logger.warn(`could not shorten ${messages.length} operation records: ${err.message}`),
      );
  }
}
