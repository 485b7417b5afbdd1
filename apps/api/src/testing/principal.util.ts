import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ALL_KEYS } from '@keyflow/contracts';
import type { Principal } from '../auth/principal';

/** A user who may read and write every key: for in-process specs of routes, which run without the auth guard. */
export const TEST_PRINCIPAL: Principal = {
  userId: '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a',
  username: 'spec',
  role: 'user',
  grants: ALL_KEYS,
  via: 'token',
};

/** Every request to `app` is made as `principal`, as if the guard had authenticated it. Call before `init`. */
export function actAs(app: NestFastifyApplication, principal: Principal = TEST_PRINCIPAL): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, _reply, done) => {
      request.principal = principal;
      done();
    });
}
