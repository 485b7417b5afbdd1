import { randomUUID } from 'node:crypto';
import underPressure from '@fastify/under-pressure';
import {
  type DynamicModule,
  HttpException,
  HttpStatus,
  type NestApplicationOptions,
  ValidationPipe,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { MAX_VALUE_BYTES } from '@keyflow/contracts';
import {
  answerMethodNotAllowed,
  clientErrorHandler,
  frameworkErrorHandler,
  refuseContentCodings,
} from './http-errors.util';
import { BULK_BODY_LIMIT, BULK_ROUTE } from './bulk-body.util';
import { useJsonBodyParser, useNdjsonBodyParser } from './json-body.util';
import { JsonObjectBodyPipe } from './json-object-body.pipe';
import { ProblemDetailsFilter } from './problem-details.filter';

/** When to shed load; a limit of 0 is not checked. */
export interface LoadSheddingOptions {
  maxHeapUsedBytes: number;
  maxRssBytes: number;
  retryAfterSeconds: number;
  /** How often memory is sampled (under-pressure's default: 1 s). */
  sampleIntervalMs?: number;
}

/** Answered whatever the pressure: liveness (a busy process is not a dead one) and metrics (to see the pressure). */
const NEVER_SHED = new Set(['/health/live', '/metrics']);

const PRESSURE_NAMES: Record<string, string> = {
  [underPressure.TYPE_HEAP_USED_BYTES]: 'heap in use',
  [underPressure.TYPE_RSS_BYTES]: 'resident memory',
};

/**
 * Creates the Nest application on Fastify with keyflow's HTTP behaviour: body parsing, framework errors,
 * pipes and the problem filter. Kept apart from the app module so it can be tested with fake services.
 */
export async function createHttpApp(
  module: DynamicModule,
  {
    instance,
    loadShedding,
    trustedProxies = ['loopback'],
    ...options
  }: NestApplicationOptions & { instance: string; loadShedding?: LoadSheddingOptions; trustedProxies?: string[] },
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // Room for a 1 MiB value plus its JSON envelope; a larger value gets a precise 413 from the service.
    bodyLimit: MAX_VALUE_BYTES + 64 * 1024,
    // A 512-byte key may be percent-encoded to three times its size.
    maxParamLength: 4096,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Only the gateways are believed (`TRUSTED_PROXIES`): request.ip is the address the gateway saw, not whatever a
    // client put in X-Forwarded-For (login rate limits are keyed on it), and request.protocol is the gateway's
    // X-Forwarded-Proto. A client that reaches the API directly is its own address, whatever headers it sends.
    trustProxy: trustedProxies,
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler(instance),
    clientErrorHandler: clientErrorHandler(instance),
  });
  const fastify = adapter.getInstance();
  // Bulk writes carry up to 1,000 operations: their route alone takes bodies up to 8 MiB (nginx lets them through
  // on that location only). Set as the route is registered, before Nest registers any.
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.url === BULK_ROUTE.url && methods.includes(BULK_ROUTE.method)) route.bodyLimit = BULK_BODY_LIMIT;
  });
  fastify.addHook('onRequest', (_request, reply, done) => {
    void reply.header('x-served-by', instance);
    done();
  });
  if (loadShedding) shedLoadUnderPressure(fastify, loadShedding);
  answerMethodNotAllowed(fastify);
  refuseContentCodings(fastify);
  // JSON only: a text/plain body gets 415 rather than being parsed as a string.
  fastify.removeContentTypeParser('text/plain');
  useJsonBodyParser(fastify);
  useNdjsonBodyParser(fastify);
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    ...options,
    // keyflow's JSON parser only: no urlencoded or multipart bodies.
    bodyParser: false,
  });
  app.useGlobalPipes(
    new JsonObjectBodyPipe(),
    new ValidationPipe({ whitelist: true, transform: true, forbidNonWhitelisted: true }),
  );
  app.useGlobalFilters(new ProblemDetailsFilter());
  return app;
}

/**
 * Sheds load before the process runs out of memory: while the heap in use (or the RSS) is above its limit,
 * requests get 503 problem+json with Retry-After and never reach a handler, so the requests already in flight
 * can finish and free what they hold. Measured by @fastify/under-pressure, sampled every second.
 * A client (or the gateway) retries elsewhere or later; a shed write was not accepted (no operation id).
 */
function shedLoadUnderPressure(fastify: FastifyInstance, options: LoadSheddingOptions): void {
  void fastify.register(underPressure, {
    maxHeapUsedBytes: options.maxHeapUsedBytes,
    maxRssBytes: options.maxRssBytes,
    ...(options.sampleIntervalMs ? { sampleInterval: options.sampleIntervalMs } : {}),
    pressureHandler: (request, reply, type) => {
      if (NEVER_SHED.has(request.url.split('?')[0] ?? '')) return;
      void reply.header('retry-after', String(options.retryAfterSeconds));
      const what = PRESSURE_NAMES[type] ?? type;
      // A rejection ends the request with this error (the problem filter answers it), without the handler.
      return Promise.reject(
        new HttpException(
          `this API instance is short of memory (${what} above its limit); retry in ${options.retryAfterSeconds} s`,
          HttpStatus.SERVICE_UNAVAILABLE,
        ),
      );
    },
  });
}
