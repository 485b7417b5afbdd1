import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { OperationRepository } from '@keyflow/db';
import { ShardCoordinator } from '../apply/shard-coordinator.service';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

/**
 * Removes finished operations older than `OPERATION_RETENTION_HOURS`, in bounded chunks, on the leader
 * worker only (the first live member). Retention must stay far longer than any redelivery can take,
 * because an operation's record is what makes a redelivered message take effect once.
 */
@Injectable()
export class RetentionService implements OnApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly operations: OperationRepository,
    private readonly coordinator: ShardCoordinator,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .then(() => undefined)
        .finally(() => (this.running = undefined));
    }, this.config.RETENTION_SWEEP_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Deletes expired operations until none are left; returns how many it deleted. */
  async sweep(now = Date.now()): Promise<number> {
    if (!this.coordinator.isLeader()) return 0;
    const before = new Date(now - this.config.OPERATION_RETENTION_HOURS * 3_600_000);
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.operations.deleteFinishedBefore(before, 1_000);
        total += deleted;
        if (deleted < 1_000) break;
      }
    } catch (err) {
      this.logger.warn(`retention sweep failed, will retry: ${(err as Error).message}`);
    }
    if (total > 0) this.logger.log(`removed ${total} operation(s) finished before ${before.toISOString()}`);
    return total;
  }
}
