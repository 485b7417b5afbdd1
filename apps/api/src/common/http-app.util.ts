import { randomUUID } from 'node:crypto';
import { type DynamicModule, type NestApplicationOptions, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { MAX_VALUE_BYTES } from '@keyflow/contracts';
import {
  answerMethodNotAllowed,
  clientErrorHandler,
  frameworkErrorHandler,
  refuseContentCodings,
} from './http-errors.util';
import { useJsonBodyParser } from './json-body.util';
import { JsonObjectBodyPipe } from './json-object-body.pipe';
import { ProblemDetailsFilter } from './problem-details.filter';

/**
 * Creates the Nest application on Fastify with keyflow's HTTP behaviour: body parsing, framework errors,
 * pipes and the problem filter. Kept apart from the app module so it can be tested with fake services.
 */
export async function createHttpApp(
  module: DynamicModule,
  { instance, ...options }: NestApplicationOptions & { instance: string },
): Promise<NestFastifyApplication> {
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
    frameworkErrors: frameworkErrorHandler(instance),
    clientErrorHandler: clientErrorHandler(instance),
  });
  const fastify = adapter.getInstance();
  fastify.addHook('onRequest', (_request, reply, done) => {
    void reply.header('x-served-by', instance);
    done();
  });
  answerMethodNotAllowed(fastify);
  refuseContentCodings(fastify);
  // JSON only: a text/plain body gets 415 rather than being parsed as a string.
  fastify.removeContentTypeParser('text/plain');
  useJsonBodyParser(fastify);
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
