import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { Pool } from 'pg';
import { loadConfigOrExit } from '@keyflow/contracts';
import { assertSchemaCurrent } from '@keyflow/db';
import { ShardCoordinator } from './apply/shard-coordinator.service';
import { DeadLetterAuditor } from './dead-letter/dead-letter-audit.service';
import { RetentionService } from './retention/retention.service';
import { loadWorkerConfig } from './config/worker.config';
import { HealthServer } from './health/health.server';
import { WRITE_POOL } from './infrastructure/infrastructure.tokens';
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

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('worker', () => loadWorkerConfig());
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(PinoLogger));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
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
  await app.get(HealthServer).listen();
  Logger.log({ shards: config.KV_SHARDS }, 'consuming shard queues', 'Startup');
}

void bootstrap();
