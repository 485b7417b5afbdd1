import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import { WriteTopology } from '@keyflow/messaging';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { AMQP, REDIS } from '@keyflow/runtime';
import { homeShards, memberName, WorkerMembership } from '../membership/worker-membership.service';
import { ApplySlots } from './apply-slots';
import { ChangePublisher } from './change-publisher';
import { DeadLetterPublisher } from './dead-letter-publisher';
import { ShardConsumer, type ShardStats } from './shard-consumer';
import { WorkerMetrics } from '../metrics/worker-metrics.service';
import { OutcomeNotifier } from './outcome-notifier.service';
import { WriteApplier } from './write-applier.service';

/**
 * Balances shards across the live workers without giving up single-active-consumer's guarantee.
 *
 * Every worker registers on every shard queue, so a dead worker's shards fail over at once to a standby.
 * Which worker is *active* is decided by registration order (RabbitMQ activates the earliest consumer), so
 * a worker registers on its home shards immediately and on the others only after `STANDBY_DELAY_MS`.
 * When membership changes, a worker releases the non-home shards it holds (finishing the batch in flight,
 * then closing the channel so unprocessed messages return to the queue in order) and re-registers on them
 * later, behind the shard's new home worker.
 */
@Injectable()
export class ShardCoordinator implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ShardCoordinator.name);
  private readonly consumers: ShardConsumer[];
  private readonly deadLetters: DeadLetterPublisher;
  private readonly membership: WorkerMembership;
  /** Live member ids (`name@incarnation`), and their names. */
  private live: string[] = [];
  private members: string[] = [];
  private home = new Set<number>();
  private timer?: NodeJS.Timeout;
  private standbyTimer?: NodeJS.Timeout;
  private stopped = false;
  private rebalancing: Promise<void> = Promise.resolve();

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(AMQP) connection: AmqpConnectionManager,
    @Inject(REDIS) redis: Cluster,
    applier: WriteApplier,
    notifier: OutcomeNotifier,
    metrics: WorkerMetrics,
  ) {
    this.membership = new WorkerMembership(redis, config.KEYFLOW_INSTANCE);
    const slots = new ApplySlots(config.APPLY_CONCURRENCY);
    const topology = new WriteTopology({ shards: config.KV_SHARDS, replicas: config.QUEUE_REPLICAS }, this.logger);
    const deadLetters = new DeadLetterPublisher(connection);
    const changes = new ChangePublisher();
    this.deadLetters = deadLetters;
    this.consumers = Array.from(
      { length: config.KV_SHARDS },
      (_, shard) =>
        new ShardConsumer(connection, applier, notifier, metrics, deadLetters, changes, {
          shard,
          shards: config.KV_SHARDS,
          replicas: config.QUEUE_REPLICAS,
          prefetch: config.PREFETCH,
          batchMax: config.BATCH_MAX,
          maxDeliveries: config.MAX_DELIVERIES,
          slots,
          topology,
        }),
    );
  }

  /** Joins the worker group and starts consuming; called once start-up checks passed. */
  async start(): Promise<void> {
    await this.tick();
    // A rejection from a timer callback would be unhandled, and end the process.
    this.timer = setInterval(
      () => void this.tick().catch((err: unknown) => this.logger.warn(`rebalancing failed: ${(err as Error).message}`)),
      1_000,
    );
  }

  /** SIGTERM: stop consuming, finish the batches in flight, hand the rest back to the queues. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.standbyTimer);
    // Stopping first also releases a rebalance still waiting for a shard channel the broker will not open.
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.rebalancing;
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.membership.leave();
    await this.deadLetters.close();
    this.logger.log('stopped consuming; in-flight batches finished');
  }

  /** The first live member (by name) runs the cluster-wide chores, such as retention. */
  isLeader(): boolean {
    return this.members[0] === this.config.KEYFLOW_INSTANCE;
  }

  /**
   * The shards this worker holds: its home shards that it consumes. Membership gives each shard one home worker, and
   * with every worker up that worker is the shard's active consumer (see the class comment). While membership is
   * changing, or a dead worker is not yet noticed (its heartbeat expires after 5 s), a shard may briefly have two
   * holders or none; the expiry sweeper, which asks, is safe either way (see `ExpirySweep`).
   */
  heldShards(): ReadonlySet<number> {
    if (this.stopped) return new Set();
    return new Set([...this.home].filter((shard) => this.consumers[shard]?.consuming));
  }

  shards(): { members: string[]; home: number[]; stats: ShardStats[] } {
    return {
      members: this.members,
      home: [...this.home].sort((a, b) => a - b),
      stats: this.consumers.map((c) => c.snapshot()),
    };
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const live = await this.membership.heartbeat();
    if (live.join(',') === this.live.join(',')) return;
    this.logger.log(`workers alive: ${live.join(', ')}`);
    this.live = live;
    const members = live.map(memberName);
    this.members = members;
    this.home = homeShards(this.config.KEYFLOW_INSTANCE, members, this.config.KV_SHARDS);
    this.rebalancing = this.rebalancing.then(() => this.rebalance()).catch((err: unknown) => this.rebalanceFailed(err));
    await this.rebalancing;
  }

  /** Keeps the chain of rebalances going: one rejected link would skip every later one, shutdown included. */
  private rebalanceFailed(err: unknown): void {
    this.logger.warn(`rebalancing failed: ${(err as Error).message}`);
  }

  private async rebalance(): Promise<void> {
    if (this.stopped) return;
    const home = this.home;
    await Promise.all(
      this.consumers.map(async (consumer, shard) => {
        if (home.has(shard)) await consumer.start();
        else await consumer.stop();
      }),
    );
    clearTimeout(this.standbyTimer);
    this.standbyTimer = setTimeout(() => {
      if (this.stopped || this.home !== home) return;
      this.rebalancing = this.rebalancing
        .then(async () => {
          if (this.stopped || this.home !== home) return;
          await Promise.all(this.consumers.filter((_, shard) => !home.has(shard)).map((c) => c.start()));
        })
        .catch((err: unknown) => this.rebalanceFailed(err));
    }, this.config.STANDBY_DELAY_MS);
  }
}
