import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestingApp } from '@keyflow/runtime/testing';
import type { ApiConfig } from '../config/api.config';
import { createApp } from '../main';
import { type FakeInfrastructure, overrideInfrastructure } from './fake-infrastructure';

/**
 * The API as `main.ts` creates it (`createApp`: `createHttpApp`'s Fastify adapter, body parser, hooks, global pipes
 * and problem filter, then cookies, Swagger and the metrics hook), over the real module graph compiled by
 * `@nestjs/testing` with the infrastructure replaced by fakes. Initialised, not listening.
 */
export function createApiTestingApp(config: ApiConfig, fakes: FakeInfrastructure): Promise<NestFastifyApplication> {
  return createTestingApp(
    () => createApp(config),
    (builder) => overrideInfrastructure(builder, fakes),
  );
}
