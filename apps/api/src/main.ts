import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import { ConsoleLogger, Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfigOrExit, MAX_VALUE_BYTES } from '@keyflow/contracts';
import { AppModule } from './app.module';
import { loadApiConfig, type ApiConfig } from './config/api.config';
import { JsonObjectBodyPipe } from './common/json-object-body.pipe';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { MetricsService } from './metrics/metrics.service';
import { checkDependencies } from './startup-check';
import { setupSwagger } from './swagger';

const LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

export async function createApp(config: ApiConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // Room for a 1 MiB value plus its JSON envelope; a larger value gets a precise 413 from the service.
    bodyLimit: MAX_VALUE_BYTES + 64 * 1024,
    // A 512-byte key may be percent-encoded to three times its size.
    maxParamLength: 4096,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // One proxy hop: the gateway. request.ip is the address nginx saw, not whatever a client put in
    // X-Forwarded-For (login rate limits are keyed on it), and request.protocol is nginx's X-Forwarded-Proto.
    trustProxy: 1,
    return503OnClosing: true,
  });
  // JSON only: a text/plain body gets 415 rather than being parsed as a string.
  adapter.getInstance().removeContentTypeParser('text/plain');
  adapter.getInstance().addHook('onRequest', (_request, reply, done) => {
    void reply.header('x-served-by', config.KEYFLOW_INSTANCE);
    done();
  });
  const logger = new ConsoleLogger({
    prefix: config.KEYFLOW_INSTANCE,
    json: process.env.NODE_ENV === 'production',
    logLevels: LEVELS.slice(0, LEVELS.indexOf(config.LOG_LEVEL) + 1),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger,
    // Fastify's own JSON parser only: no urlencoded or multipart bodies.
    bodyParser: false,
  });
  await app.register(fastifyCookie);
  app.useGlobalPipes(
    new JsonObjectBodyPipe(),
    new ValidationPipe({ whitelist: true, transform: true, forbidNonWhitelisted: true }),
  );
  app.useGlobalFilters(new ProblemDetailsFilter());
  app.enableShutdownHooks();
  setupSwagger(app);
  const metrics = app.get(MetricsService);
  adapter.getInstance().addHook('onResponse', (request, reply, done) => {
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
