import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DEAD_LETTER_QUEUE, shardQueueName } from '@keyflow/contracts';
import { SupervisedChannel } from '@keyflow/messaging';
import { AMQP, createMetricsRegistry, WRITE_POOL } from '@keyflow/runtime';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

/**
 * The worker's Prometheus metrics, on `/metrics` of its HTTP port: batch size and apply latency, writes by outcome,
 * queue depth per shard (and of the dead-letter queue), and what every keyflow process reports (DB pool use, process
 * defaults: `createMetricsRegistry`).
 *
 * Queue depth is asked on a channel of its own, a `SupervisedChannel`: a queue that does not exist makes the broker
 * close the channel that asked (404), which is then re-opened, while the connection and the shard consumers' channels
 * stay up (on a bare channel amqplib would escalate that unheard error to the whole connection). A depth that cannot
 * be read is left out of the scrape.
 */
@Injectable()
export class WorkerMetrics implements BeforeApplicationShutdown {
  readonly registry: Registry;
  readonly batchSize: Histogram;
  readonly batchSeconds: Histogram;
  readonly writes: Counter<'status'>;
  readonly expiriesPublished: Counter;
  private readonly channel: SupervisedChannel;

  constructor(
    @Inject(WORKER_CONFIG) config: WorkerConfig,
    @Inject(WRITE_POOL) pool: Pool,
    @Inject(AMQP) connection: AmqpConnectionManager,
  ) {
    this.registry = createMetricsRegistry(config.KEYFLOW_INSTANCE, { write: pool });
    this.batchSize = new Histogram({
      name: 'keyflow_apply_batch_size',
      help: 'Writes applied per database transaction',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [this.registry],
    });
    this.batchSeconds = new Histogram({
      name: 'keyflow_apply_batch_seconds',
      help: 'Time to apply one batch: transaction, cache update and ack',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.writes = new Counter({
      name: 'keyflow_writes_total',
      help: 'Writes settled by this worker, by outcome (applied, conflict, duplicate, dead_lettered)',
      labelNames: ['status'],
      registers: [this.registry],
    });
    this.expiriesPublished = new Counter({
      name: 'keyflow_expiries_published_total',
      help: 'Expiry deletes of keys whose time to live ran out, published by this worker and confirmed by the broker',
      registers: [this.registry],
    });
    this.channel = new SupervisedChannel(connection, {
      name: 'metrics',
      confirm: false,
      logger: new Logger(WorkerMetrics.name),
    });
    const channel = this.channel;
    const queues = [...Array.from({ length: config.KV_SHARDS }, (_, s) => shardQueueName(s)), DEAD_LETTER_QUEUE];
    new Gauge({
      name: 'keyflow_queue_depth',
      help: 'Messages ready in each write queue (the backlog not yet taken by a worker)',
      labelNames: ['queue'],
      registers: [this.registry],
      async collect() {
        for (const queue of queues) {
          const depth = await channel.checkQueue(queue).then(
            (q) => q.messageCount,
            () => undefined,
          );
          if (depth !== undefined) this.set({ queue }, depth);
        }
      },
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.channel.close();
  }
}
