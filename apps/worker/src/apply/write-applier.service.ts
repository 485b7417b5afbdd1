import { Injectable, Logger } from '@nestjs/common';
import { KvCache, type CachedEntry } from '@keyflow/cache';
import type { WriteMessage } from '@keyflow/contracts';
import {
  isTransientDbError,
  KvRepository,
  OperationRepository,
  type BatchResult,
  type KvEntry,
  type WriteOp,
} from '@keyflow/db';

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

function toCached(entry: KvEntry): CachedEntry {
  return entry.deleted
    ? { state: 'deleted', version: entry.version, updatedAt: entry.updatedAt }
    : { state: 'present', version: entry.version, valueJson: entry.valueJson ?? 'null', updatedAt: entry.updatedAt };
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

  constructor(
    private readonly repository: KvRepository,
    private readonly operations: OperationRepository,
    private readonly cache: KvCache,
  ) {}

  async applyToDatabase(messages: WriteMessage[]): Promise<ApplyOutcome & { entries: KvEntry[] }> {
    try {
      const result = await this.repository.applyBatch(messages.map(toWriteOp));
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

  /** Brings the cache to the committed state; an older cached version is replaced, a newer one kept. */
  async updateCache(entries: KvEntry[]): Promise<void> {
    await Promise.all(entries.map((entry) => this.cache.setIfNewer(entry.key, toCached(entry))));
  }

  async recordFailed(message: Pick<WriteMessage, 'id' | 'key' | 'type' | 'acceptedAt'>, reason: string): Promise<void> {
    await this.operations.recordFailed(message, reason);
  }
}
