import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { vi } from 'vitest';

/**
 * Creates an app exactly as its `main.ts` does (`create`: its adapter, hooks, pipes and filters), but over the module
 * graph compiled by `@nestjs/testing` with `override` applied (fake clients, say). Initialised, not listening:
 * requests go through Fastify's `inject`.
 *
 * `create` hands its module to `NestFactory.create`, which knows no overrides. For the length of this call
 * `NestFactory.create` is therefore replaced by what `@nestjs/testing` offers instead: compile the same module with
 * the overrides, then `createNestApplication` on the same adapter and with the same options.
 */
export async function createTestingApp<T extends INestApplication>(
  create: () => Promise<T>,
  override: (builder: TestingModuleBuilder) => TestingModuleBuilder,
): Promise<T> {
  const spy = vi.spyOn(NestFactory, 'create').mockImplementation(async (module, adapter, options) => {
    const moduleRef = await override(Test.createTestingModule({ imports: [module as DynamicModule] })).compile();
    return moduleRef.createNestApplication(adapter, options);
  });
  try {
    const app = await create();
    if (spy.mock.calls.length !== 1) throw new Error('the app is no longer created with NestFactory.create');
    await app.init();
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
    return app;
  } finally {
    spy.mockRestore();
  }
}
