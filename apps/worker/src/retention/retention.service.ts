import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { KvRepository, OperationRepository } from '@keyflow/db';
import { ShardCoordinator } from '../apply/shard-coordinator.service';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

/** Rows removed per statement: bounded transactions, whatever the backlog. */
const CHUNK = 1_000;

export interface SweepResult {
  operations: number;
  tombstones: number;
}

/**
 * Removes what is older than `OPERATION_RETENTION_HOURS`, in bounded chunks, on the leader worker only (the first
 * live member):
 * - finished operations, except those whose dead letter may still exist (`OperationRepository.deleteFinishedBefore`).
 *   An operation's record is what makes a redelivered message take effect once, so the retention must stay far
 *   longer than any redelivery can take; a dead letter can wait for an operator indefinitely, so its record stays
 *   until `npm run dlq` removed the letter;
 * - tombstones of deleted keys (`KvRepository.compactTombstones`), except those of keys with a dead letter. What is
 *   left of one is its key's hash and last version, so a key written again continues from that version: versions
 *   stay gapless and never repeat. The same retention, because a full tombstone older than it serves nothing else:
 *   the cache's own tombstones expire much sooner, and no redelivery is that late.
 * The two are independent: one failing does not stop the other, and both are retried at the next sweep.
 */
@Injectable()
export class RetentionService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly operations: OperationRepository,
    private readonly kv: KvRepository,
    private readonly coordinator: ShardCoordinator,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .then(() => undefined)
        .finally(() => (this.running = undefined));
    }, this.config.RETENTION_SWEEP_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Removes expired operations and compacts expired tombstones until none are left; returns how many went. */
  async sweep(now = Date.now()): Promise<SweepResult> {
    if (!this.coordinator.isLeader()) return { operations: 0, tombstones: 0 };
    const before = new Date(now - this.config.OPERATION_RETENTION_HOURS * 3_600_000);
    const operations = await this.inChunks('pruning operations', (limit) =>
      this.operations.deleteFinishedBefore(before, limit),
    );
    const tombstones = await this.inChunks('compacting tombstones', (limit) =>
      this.kv.compactTombstones(before, limit),
    );
    if (operations > 0) this.logger.log(`removed ${operations} operation(s) finished before ${before.toISOString()}`);
    if (tombstones > 0)
      this.logger.log(`compacted ${tombstones} tombstone(s) of keys deleted before ${before.toISOString()}`);
    return { operations, tombstones };
  }

  /** Runs `removeChunk` until a chunk comes back short; a failure ends this round (logged), keeping the count so far. */
  private async inChunks(what: string, removeChunk: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const removed = await removeChunk(CHUNK);
        total += removed;
        if (removed < CHUNK) break;
      }
    } catch (err) {
      this.logger.warn(`${what} failed, will retry: ${(err as Error).message}`);
    }
    return total;
  }
}
