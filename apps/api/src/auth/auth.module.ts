import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { UserRepository } from '@keyflow/db';
import { REDIS, WRITE_POOL } from '@keyflow/runtime';
import { LoginThrottle, SessionStore, TokenCache } from '@keyflow/session';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

/** Users, sessions, tokens, and the global guard that decides who may call what. */
@Module({
  controllers: [AuthController, UsersController],
  providers: [
    AuthService,
    UsersService,
    { provide: APP_GUARD, useClass: AuthGuard },
    // The primary, not a replica: a revoked token or a new user must be seen at once.
    { provide: UserRepository, inject: [WRITE_POOL], useFactory: (pool: Pool) => new UserRepository(pool) },
    {
      provide: SessionStore,
      inject: [REDIS, API_CONFIG],
      useFactory: (redis: Cluster, config: ApiConfig) =>
        new SessionStore(redis, {
          idleTtlMs: config.SESSION_IDLE_TIMEOUT_S * 1000,
          absoluteTtlMs: config.SESSION_ABSOLUTE_TIMEOUT_S * 1000,
        }),
    },
    {
      provide: LoginThrottle,
      inject: [REDIS, API_CONFIG],
      useFactory: (redis: Cluster, config: ApiConfig) =>
        new LoginThrottle(redis, {
          maxPerUser: config.LOGIN_MAX_ATTEMPTS_PER_USER,
          maxPerAddress: config.LOGIN_MAX_ATTEMPTS_PER_ADDRESS,
          windowMs: config.LOGIN_WINDOW_S * 1000,
        }),
    },
    { provide: TokenCache, inject: [REDIS], useFactory: (redis: Cluster) => new TokenCache(redis) },
  ],
})
export class AuthModule {}
