import { createServer, type Server } from 'node:http';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { ShardCoordinator } from '../apply/shard-coordinator.service';
import { WorkerMetrics } from '../metrics/worker-metrics.service';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { AMQP, REDIS, WRITE_POOL } from '../infrastructure/infrastructure.tokens';

/**
 * The worker's only HTTP surface, on its own port and never behind the gateway: liveness, readiness (broker,
 * database and Redis reachable) and the shards it holds.
 */
@Injectable()
export class HealthServer implements OnApplicationShutdown {
  private readonly logger = new Logger(HealthServer.name);
  private server?: Server;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(WRITE_POOL) private readonly pool: Pool,
    @Inject(REDIS) private readonly redis: Cluster,
    @Inject(AMQP) private readonly amqp: AmqpConnectionManager,
    private readonly coordinator: ShardCoordinator,
    private readonly metrics: WorkerMetrics,
  ) {}

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] === '/metrics') {
        void this.metrics.registry.metrics().then((body) => {
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(body);
        });
        return;
      }
      void this.handle(req.url ?? '/').then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-served-by': this.config.KEYFLOW_INSTANCE });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(this.config.PORT, this.config.HOST, resolve));
    this.logger.log(`health on http://${this.config.HOST}:${this.config.PORT}/health/ready`);
  }

  async onApplicationShutdown(): Promise<void> {
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  private async handle(url: string): Promise<{ status: number; body: unknown }> {
    const path = url.split('?')[0];
    if (path === '/health/live') return { status: 200, body: { status: 'ok', instance: this.config.KEYFLOW_INSTANCE } };
    if (path === '/health/ready') return this.ready();
    if (path === '/shards') return { status: 200, body: this.coordinator.shards() };
    return { status: 404, body: { type: 'about:blank', title: 'Not found', status: 404, detail: `no route ${path}` } };
  }

  private async ready(): Promise<{ status: number; body: unknown }> {
    const checks: Record<string, { status: 'up' | 'down'; message?: string }> = {};
    const timeout = <T>(p: Promise<T>): Promise<T> =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 1_500))]);
    const run = async (name: string, check: () => Promise<unknown>): Promise<void> => {
      try {
        await timeout(check());
        checks[name] = { status: 'up' };
      } catch (err) {
        checks[name] = { status: 'down', message: (err as Error).message };
      }
    };
    await Promise.all([
      run('database', () => this.pool.query('SELECT 1')),
      run('redis', () => this.redis.ping()),
      run('rabbitmq', () =>
        this.amqp.isConnected() ? Promise.resolve() : Promise.reject(new Error('not connected to the broker')),
      ),
    ]);
    const up = Object.values(checks).every((c) => c.status === 'up');
    return {
      status: up ? 200 : 503,
      body: { status: up ? 'ok' : 'error', instance: this.config.KEYFLOW_INSTANCE, checks },
    };
  }
}
