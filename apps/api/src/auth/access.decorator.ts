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
 * - `admin`: a session or a bearer token of an admin user.
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
