import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { WritePublisher } from '@keyflow/messaging';
import { createMetricsRegistry, READ_POOL, WRITE_POOL } from '@keyflow/runtime';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { WatchService } from '../watch/watch.service';

/**
 * The API's Prometheus metrics, served on `/metrics` of each instance (the gateway answers 404 for it, so
 * only the internal network scrapes it): request rate and latency by route, publish-confirm latency, cache
 * hit ratio, and what every keyflow process reports (DB pool use, process defaults: `createMetricsRegistry`).
 */
@Injectable()
export class MetricsService {
  readonly registry: Registry;
  readonly requests: Histogram<'method' | 'route' | 'status'>;
  readonly publishConfirm: Histogram;
  readonly cache: Counter<'result'>;

  constructor(
    @Inject(API_CONFIG) config: ApiConfig,
    @Inject(WRITE_POOL) writePool: Pool,
    @Inject(READ_POOL) readPool: Pool,
    publisher: WritePublisher,
    watches: WatchService,
  ) {
    this.registry = createMetricsRegistry(config.KEYFLOW_INSTANCE, { write: writePool, read: readPool });
    this.requests = new Histogram({
      name: 'keyflow_http_request_duration_seconds',
      help: 'HTTP requests by route pattern, method and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [this.registry],
    });
    this.publishConfirm = new Histogram({
      name: 'keyflow_publish_confirm_seconds',
      help: 'Time from publishing a write to the broker confirming it into its quorum queue',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.cache = new Counter({
      name: 'keyflow_cache_reads_total',
      help: 'Cache lookups by result: hit, miss (read the database) or error (degraded to the database)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'keyflow_group_commit_messages',
      help: 'Batch messages this instance published since it started (writes per message: writes ÷ messages)',
      registers: [this.registry],
      collect() {
        this.set(publisher.stats().groups);
      },
    });
    new Gauge({
      name: 'keyflow_watch_streams',
      help: 'GET /v1/watch streams open on this instance (each holds one AMQP channel on the change stream)',
      registers: [this.registry],
      collect() {
        this.set(watches.openWatches);
      },
    });
    new Gauge({
      name: 'keyflow_group_commit_writes',
      help: 'Writes this instance published since it started, in batch messages',
      registers: [this.registry],
      collect() {
        this.set(publisher.stats().items);
      },
    });
  }
}
