import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { DependencyHealthIndicator } from '@keyflow/runtime';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

/** The readiness answer the stack, Compose and Kubernetes probe (they read only its status: 200 or 503). */
export interface WorkerReadiness {
  status: 'ok' | 'error';
  instance: string;
  /** Each dependency, `up` or `down` with the reason. */
  checks: HealthIndicatorResult;
}

/**
 * Liveness and readiness on the worker's own port, never behind the gateway. Readiness is Terminus's check of the
 * runtime's clients (database, Redis, broker), answered in the worker's own shape: 200 when all are up, 503 naming
 * those that are not.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly dependencies: DependencyHealthIndicator,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  @Get('live')
  live(): { status: 'ok'; instance: string } {
    return { status: 'ok', instance: this.config.KEYFLOW_INSTANCE };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<WorkerReadiness> {
    // Terminus throws its report (503) when a check is down; the worker answers it as a body, not an error.
    const result = await this.health.check(this.dependencies.checks()).catch((err: unknown) => {
      if (err instanceof ServiceUnavailableException) return err.getResponse() as HealthCheckResult;
      throw err;
    });
    const up = result.status === 'ok';
    void reply.status(up ? 200 : 503);
    return { status: up ? 'ok' : 'error', instance: this.config.KEYFLOW_INSTANCE, checks: result.details };
  }
}
