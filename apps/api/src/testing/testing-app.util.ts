import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { vi } from 'vitest';
import type { ApiConfig } from '../config/api.config';
import { createApp } from '../main';
import { type FakeInfrastructure, overrideInfrastructure } from './fake-infrastructure';

/**
 * The API as `main.ts` creates it (`createApp`: `createHttpApp`'s Fastify adapter, body parser, hooks, global pipes
 * and problem filter, then cookies, Swagger and the metrics hook), over the real module graph compiled by
 * `@nestjs/testing` with the infrastructure replaced by fakes. Initialised, not listening: requests go through
 * Fastify's `inject`.
 *
 * `createHttpApp` hands its module to `NestFactory.create`, which knows no overrides. For the length of this call
 * `NestFactory.create` is therefore replaced by what `@nestjs/testing` offers instead: compile the same module with
 * the overrides, then `createNestApplication` on the adapter and with the options `createHttpApp` built.
 */
export async function createTestingApp(config: ApiConfig, fakes: FakeInfrastructure): Promise<NestFastifyApplication> {
  const create = vi.spyOn(NestFactory, 'create').mockImplementation(async (module, adapter, options) => {
    const moduleRef = await overrideInfrastructure(
      Test.createTestingModule({ imports: [module as DynamicModule] }),
      fakes,
    ).compile();
    return moduleRef.createNestApplication(adapter, options);
  });
  try {
    const app = await createApp(config);
    if (create.mock.calls.length !== 1) throw new Error('createApp no longer creates its app with NestFactory.create');
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  } finally {
    create.mockRestore();
  }
}
