import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import type { FastifyRequest } from 'fastify';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { ACCESS_KEY, type AccessLevel } from './access.decorator';
import { AuthService, type Credentials } from './auth.service';
import { isUnrestricted } from './key-access.util';
import { foreignOrigin } from './same-origin.util';

export const SESSION_COOKIE = 'keyflow_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function credentialsOf(request: FastifyRequest): Credentials {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
    // Anything else in Authorization is a credential we do not accept, not an absence of one.
    return { bearer: match?.[1] ?? '' };
  }
  return { sessionId: request.cookies[SESSION_COOKIE] };
}

/**
 * The one place access is decided (global guard). Routes say who may call them with `@Access`; the rest follow
 * the default policy. Cookie-authenticated unsafe requests must come from the service's own origin (CSRF).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const level = this.reflector.getAllAndOverride<AccessLevel | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (level === 'public') return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const safe = SAFE_METHODS.has(request.method);
    // Open reads never touch Redis for credentials: that keeps them as cheap as they were.
    if (level === undefined && safe && !this.config.READS_REQUIRE_AUTH) return true;

    const credentials = credentialsOf(request);
    if (credentials.bearer === undefined && credentials.sessionId === undefined) {
      throw new DomainError(ErrorCode.UNAUTHENTICATED, 'this request needs a session (log in) or a bearer token', {
        challenge: 'bearer',
      });
    }
    const principal = await this.auth.authenticate(credentials);
    if (!principal) {
      const what =
        credentials.bearer !== undefined
          ? 'the bearer token is unknown or revoked'
          : 'the session has ended; log in again';
      throw new DomainError(ErrorCode.UNAUTHENTICATED, what, { challenge: 'bearer' });
    }
    if (principal.via === 'session' && !safe) {
      const foreign = foreignOrigin(request.headers, request.protocol, this.config.TRUSTED_ORIGINS);
      if (foreign !== undefined) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          `cross-site request refused: a session may only write from this service's own pages, not from ${foreign}`,
        );
      }
    }
    if (level === 'admin' && (principal.role !== 'admin' || !isUnrestricted(principal))) {
      throw new DomainError(
        ErrorCode.FORBIDDEN,
        principal.role === 'admin'
          ? 'only an admin may do this, with a credential not narrowed by grants'
          : 'only an admin may do this',
      );
    }
    request.principal = principal;
    return true;
  }
}
