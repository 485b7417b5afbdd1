import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { Pool } from 'pg';
import { loadConfigOrExit } from '@keyflow/contracts';
import { assertSchemaCurrent } from '@keyflow/db';
import { WRITE_POOL } from '@keyflow/runtime';
import { ShardCoordinator } from './apply/shard-coordinator.service';
import { DeadLetterAuditor } from './dead-letter/dead-letter-audit.service';
import { ExpirySweeper } from './expiry/expiry-sweeper.service';
import { RetentionService } from './retention/retention.service';
import { loadWorkerConfig, type WorkerConfig } from './config/worker.config';
import { NotFoundFilter } from './health/not-found.filter';
import { WorkerModule } from './worker.module';

/** Waits for the database (it may be starting too), then refuses a schema this build does not know. */
async function checkSchema(pool: Pool, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await pool.query('SELECT 1');
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the database is unreachable: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await assertSchemaCurrent(pool);
}

/**
 * The worker as a Nest HTTP app on Fastify, not yet listening. Its only routes are its own port's health, shards
 * and metrics (never behind the gateway); every answer names the instance in `X-Served-By`.
 */
export async function createWorkerApp(config: WorkerConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter();
  adapter.getInstance().addHook('onRequest', (_request, reply, done) => {
    void reply.header('x-served-by', config.KEYFLOW_INSTANCE);
    done();
  });
  const app = await NestFactory.create<NestFastifyApplication>(WorkerModule.forRoot(config), adapter, {
    // Held until the pino logger (RuntimeModule) takes over, then written through it.
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(PinoLogger));
  // NestFactory.create (unlike createApplicationContext) would hold them until `listen`: lost if startup fails.
  app.flushLogs();
  app.useGlobalFilters(new NotFoundFilter());
  return app;
}

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('worker', () => loadWorkerConfig());
  const app = await createWorkerApp(config);
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.init();
  try {
    await checkSchema(app.get<Pool>(WRITE_POOL));
  } catch (err) {
    Logger.error({ err }, 'cannot start', 'Startup');
    await app.close();
    process.exit(1);
  }
  // The auditor declares the whole write topology (dead-letter exchange included) before any shard consumes.
  await app.get(DeadLetterAuditor).start();
  await app.get(ShardCoordinator).start();
  app.get(RetentionService).start();
  // After the coordinator: it sweeps the shards this worker holds.
  app.get(ExpirySweeper).start();
  // Ready only now: the supervisor and the stack wait for /health/ready before they count the worker as up.
  await app.listen({ host: config.HOST, port: config.PORT });
  Logger.log({ host: config.HOST, port: config.PORT, shards: config.KV_SHARDS }, 'consuming shard queues', 'Startup');
}

if (require.main === module) void bootstrap();
