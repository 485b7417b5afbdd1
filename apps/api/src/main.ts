import 'reflect-metadata';
import { getHeapStatistics } from 'node:v8';
import fastifyCookie from '@fastify/cookie';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import { loadConfigOrExit } from '@keyflow/contracts';
import { AppModule } from './app.module';
import { loadApiConfig, type ApiConfig } from './config/api.config';
import { createHttpApp } from './common/http-app.util';
import { MetricsService } from './metrics/metrics.service';
import { checkDependencies } from './startup-check';
import { setupSwagger } from './swagger';

export async function createApp(config: ApiConfig): Promise<NestFastifyApplication> {
  const app = await createHttpApp(AppModule.forRoot(config), {
    instance: config.KEYFLOW_INSTANCE,
    trustedProxies: config.TRUSTED_PROXIES,
    // Held until the pino logger (LoggerModule, in the app module) takes over, then written through it.
    bufferLogs: true,
    loadShedding: {
      maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * config.LOAD_SHED_HEAP_USED_RATIO),
      maxRssBytes: config.LOAD_SHED_RSS_BYTES,
      retryAfterSeconds: config.LOAD_SHED_RETRY_AFTER_S,
    },
  });
  app.useLogger(app.get(PinoLogger));
  // NestFactory.create (unlike createApplicationContext) would hold them until `listen`: lost if startup fails.
  app.flushLogs();
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
    Logger.error({ err }, 'cannot start', 'Startup');
    await app.close();
    process.exit(1);
  }
  await app.listen({ host: config.HOST, port: config.PORT });
  Logger.log({ host: config.HOST, port: config.PORT }, 'listening', 'Startup');
}

if (require.main === module) void bootstrap();
