import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import type { FastifyRequest } from 'fastify';
import type { Principal } from './principal';

/**
 * Who may call a route. Without this decorator a route follows the default policy: writes need credentials,
 * reads need them when the topology says so (`auth.readsRequireAuth`, on by default).
 *
 * - `public`: anyone (health, login).
 * - `authenticated`: a session or a bearer token, whatever the method.
 * - `admin`: a session or a bearer token of an admin user, not narrowed by a token's grants.
 */
export type AccessLevel = 'public' | 'authenticated' | 'admin';

export const ACCESS_KEY = 'keyflow:access';

export const Access = (level: AccessLevel): MethodDecorator & ClassDecorator => SetMetadata(ACCESS_KEY, level);

/** The caller the guard authenticated; only on routes that require credentials. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<FastifyRequest>().principal;
  // The guard runs first; reaching here without a principal means a route was declared public by mistake.
  if (!principal) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'this request needs credentials');
  return principal;
});

/**
 * The caller, if the guard authenticated one: absent only on reads the topology leaves open to anonymous callers
 * (`auth.readsRequireAuth: false`). Key routes pass it to `requireKeyAccess`.
 */
export const OptionalPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Principal | undefined =>
    ctx.switchToHttp().getRequest<FastifyRequest>().principal,
);
