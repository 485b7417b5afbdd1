import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import { KvCache, OperationTracker, type AcceptedOperation, type CommittedEntry } from '@keyflow/cache';
import type { WriteMessage } from '@keyflow/contracts';
import {
  isTransientDbError,
  KvRepository,
  OperationRepository,
  type BatchResult,
  type KvEntry,
  type WriteOp,
} from '@keyflow/db';
import { REDIS } from '../infrastructure/infrastructure.tokens';

/** A write that cannot be applied however often it is retried (for example a value the database rejects). */
export class NonRetryableWriteError extends Error {
  constructor(
    readonly operationId: string,
    message: string,
  ) {
    super(message);
    this.name = 'NonRetryableWriteError';
  }
}

export interface ApplyOutcome {
  applied: BatchResult['ops'];
  /** Operations the database refused for good, with the reason; they go to the dead-letter queue. */
  rejected: Array<{ message: WriteMessage; reason: string }>;
}

function toWriteOp(message: WriteMessage): WriteOp {
  return {
    id: message.id,
    key: message.key,
    type: message.type,
    ...(message.type === 'put' ? { valueJson: JSON.stringify(message.value ?? null) } : {}),
    ...(message.condition ? { condition: message.condition } : {}),
    acceptedAt: message.acceptedAt,
  };
}

function toCommitted(entry: KvEntry): CommittedEntry {
  return {
    key: entry.key,
    entry: entry.deleted
      ? { state: 'deleted', version: entry.version, updatedAt: entry.updatedAt }
      : { state: 'present', version: entry.version, valueJson: entry.valueJson ?? 'null', updatedAt: entry.updatedAt },
  };
}

function toTracked({ id, key, type, acceptedAt }: Pick<WriteMessage, 'id' | 'key' | 'type' | 'acceptedAt'>) {
  return { id, key, type, acceptedAt } satisfies AcceptedOperation;
}

/**
 * Applies a shard's batch: one database transaction for the whole batch, then version-guarded cache updates.
 * Transient failures (database or Redis unreachable) are thrown for the caller to retry the whole batch;
 * that is safe because applying is idempotent by operation id. A batch the database refuses for another
 * reason is split, so one bad operation is rejected alone instead of blocking its shard.
 */
@Injectable()
export class WriteApplier {
  private readonly logger = new Logger(WriteApplier.name);
  private readonly tracker: OperationTracker;

  constructor(
    private readonly repository: KvRepository,
    private readonly operations: OperationRepository,
    private readonly cache: KvCache,
    @Inject(REDIS) redis: Cluster,
  ) {
    this.tracker = new OperationTracker(redis);
  }

  async applyToDatabase(messages: WriteMessage[]): Promise<ApplyOutcome & { entries: KvEntry[] }> {
    try {
      const result = await this.repository.applyBatch(messages.map(toWriteOp));
      const settled = new Set(result.ops.map((op) => op.id));
      await this.markFinished(messages.filter((m) => settled.has(m.id)));
      return { applied: result.ops, entries: result.entries, rejected: [] };
    } catch (err) {
      if (isTransientDbError(err) || messages.length === 1) {
        if (!isTransientDbError(err)) {
          const reason = `the database rejected the write: ${(err as Error).message}`;
          return { applied: [], entries: [], rejected: messages.map((message) => ({ message, reason })) };
        }
        throw err;
      }
      this.logger.warn(`batch of ${messages.length} refused (${(err as Error).message}); applying one by one`);
      const outcome: ApplyOutcome & { entries: KvEntry[] } = { applied: [], entries: [], rejected: [] };
      for (const message of messages) {
        const single = await this.applyToDatabase([message]);
        outcome.applied.push(...single.applied);
        outcome.entries.push(...single.entries);
        outcome.rejected.push(...single.rejected);
      }
      return outcome;
    }
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

  async recordFailed(message: Pick<WriteMessage, 'id' | 'key' | 'type' | 'acceptedAt'>, reason: string): Promise<void> {
    await this.operations.recordFailed(message, reason);
    await this.markFinished([message]);
  }

  /**
   * The outcomes are in the database now, which answers `GET /v1/operations/{id}` from here on: the operations'
   * records in Redis are cut from 24 h to a minute (see `OperationTracker`). Best effort: a record that is not
   * cut expires on its own, so a Redis failure here must not fail or retry the batch.
   */
  private async markFinished(messages: Array<Pick<WriteMessage, 'id' | 'key' | 'type' | 'acceptedAt'>>) {
    if (messages.length === 0) return;
    await this.tracker
      .markFinished(messages.map(toTracked))
      .catch((err: Error) =>
        this.logger.warn(`could not shorten ${messages.length} operation records: ${err.message}`),
      );
  }
}
