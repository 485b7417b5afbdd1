import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import { OperationTracker } from '@keyflow/cache';
import { KvRepository } from '@keyflow/db';
import { WritePublisher } from '@keyflow/messaging';
import { AMQP, REDIS } from '@keyflow/runtime';
import { ShardCoordinator } from '../apply/shard-coordinator.service';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { WorkerMetrics } from '../metrics/worker-metrics.service';
import { ExpirySweep } from './expiry-sweep';

/** Pages of the expiry index one sweep reads at most (each `EXPIRY_SWEEP_BATCH` keys). */
const MAX_PAGES = 8;
/**
 * How long a published expiry counts as in flight before a sweep may publish it again (the same operation: harmless).
 * Far above the usual apply latency; reached only when the shard has a backlog.
 */
const REPUBLISH_AFTER_MS = 10_000;

/**
 * Deletes keys whose time to live ran out, through the write path: every `EXPIRY_SWEEP_INTERVAL_MS` (250 ms) a sweep
 * (`ExpirySweep`) reads the expiry index on the primary and publishes, for each expired key of the shards this worker
 * holds, a versioned delete (`cause: 'expire'`) into the key's shard queue, with publisher confirms (the messaging
 * lib's `WritePublisher`, as the API publishes), then records the operation as accepted (`OperationTracker`).
 *
 * The bound: a key reads as absent from its `expiresAt` on wherever it is read (the API checks it), and its expiry
 * delete is applied within a sweep interval, a confirm and an apply of it: well under a second on an idle shard.
 * While a dead worker's shards are not yet re-homed (5 s heartbeat expiry) their keys wait for the next holder.
 *
 * Its channel is opened at `start` (not when the module is built), after the shard coordinator started.
 */
@Injectable()
export class ExpirySweeper implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ExpirySweeper.name);
  private publisher?: WritePublisher;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(AMQP) private readonly connection: AmqpConnectionManager,
    @Inject(REDIS) private readonly redis: Cluster,
    private readonly repository: KvRepository,
    private readonly coordinator: ShardCoordinator,
    private readonly metrics: WorkerMetrics,
  ) {}

  start(): void {
    const publisher = new WritePublisher(this.connection, {
      shards: this.config.KV_SHARDS,
      replicas: this.config.QUEUE_REPLICAS,
      confirmTimeoutMs: 5_000,
      logger: this.logger,
    });
    const tracker = new OperationTracker(this.redis);
    this.publisher = publisher;
    const sweep = new ExpirySweep(
      {
        findExpired: (now, limit, after) => this.repository.findExpired(now, limit, after),
        heldShards: () => this.coordinator.heldShards(),
        publish: (message) => publisher.publish(message),
        markAccepted: (op) => tracker.markAccepted(op),
        warn: (message) => this.logger.warn(message),
      },
      {
        shards: this.config.KV_SHARDS,
        pageSize: this.config.EXPIRY_SWEEP_BATCH,
        maxPages: MAX_PAGES,
        republishAfterMs: REPUBLISH_AFTER_MS,
      },
    );
    // One sweep at a time: a slow one (a database failover) is not stacked on.
    this.timer = setInterval(() => {
      this.running ??= sweep
        .sweep()
        .then(({ published }) => this.metrics.expiriesPublished.inc(published))
        .catch((err: unknown) =>
          this.logger.warn(`sweeping expired keys failed, will retry: ${(err as Error).message}`),
        )
        .finally(() => (this.running = undefined));
    }, this.config.EXPIRY_SWEEP_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.publisher?.close();
  }
}
