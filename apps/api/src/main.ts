import 'reflect-metadata';
import { getHeapStatistics } from 'node:v8';
import fastifyCookie from '@fastify/cookie';
import { ConsoleLogger, Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfigOrExit } from '@keyflow/contracts';
import { AppModule } from './app.module';
import { loadApiConfig, type ApiConfig } from './config/api.config';
import { createHttpApp } from './common/http-app.util';
import { MetricsService } from './metrics/metrics.service';
import { checkDependencies } from './startup-check';
import { setupSwagger } from './swagger';

const LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

export async function createApp(config: ApiConfig): Promise<NestFastifyApplication> {
  const logger = new ConsoleLogger({
    prefix: config.KEYFLOW_INSTANCE,
    json: process.env.NODE_ENV === 'production',
    logLevels: LEVELS.slice(0, LEVELS.indexOf(config.LOG_LEVEL) + 1),
  });
  const app = await createHttpApp(AppModule.forRoot(config), {
    instance: config.KEYFLOW_INSTANCE,
    logger,
    loadShedding: {
      maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * config.LOAD_SHED_HEAP_USED_RATIO),
      maxRssBytes: config.LOAD_SHED_RSS_BYTES,
      retryAfterSeconds: config.LOAD_SHED_RETRY_AFTER_S,
    },
  });
  await app.register(fastifyCookie);
  app.enableShutdownHooks();
  setupSwagger(app);
  const metrics = app.get(MetricsService);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') {
      metrics.requests.observe(
        { method: request.method, route, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    }
    done();
  });
  return app;
}

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('api', () => loadApiConfig());
  const app = await createApp(config);
  try {
    await checkDependencies(app);
  } catch (err) {
    Logger.error(`cannot start: ${(err as Error).message}`, 'Startup');
    await app.close();
    process.exit(1);
  }
  await app.listen({ host: config.HOST, port: config.PORT });
  Logger.log(`${config.KEYFLOW_INSTANCE} listening on http://${config.HOST}:${config.PORT}`, 'Startup');
}

if (require.main === module) void bootstrap();
