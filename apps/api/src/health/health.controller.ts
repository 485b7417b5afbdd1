import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { DependencyHealthIndicator } from '@keyflow/runtime';
import { Access } from '../auth/access.decorator';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { sharedFor } from './shared-result.util';

/** How long one readiness check answers every caller. */
const READY_CHECK_SHARED_MS = 1_000;

@ApiTags('health')
@Access('public')
@Controller('health')
export class HealthController {
  /**
   * Readiness queries the database, Redis and RabbitMQ, and anyone may ask: so one check a second answers every
   * caller (its result or its 503), and a flood of anonymous requests costs the dependencies nothing more.
   */
  private readonly readiness: () => Promise<HealthCheckResult>;

  constructor(
    private readonly health: HealthCheckService,
    private readonly dependencies: DependencyHealthIndicator,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.readiness = sharedFor(READY_CHECK_SHARED_MS, () => this.health.check(this.dependencies.checks()));
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process serves HTTP' })
  @ApiOkResponse({ schema: { example: { status: 'ok', instance: 'api-1' } } })
  live(): { status: 'ok'; instance: string } {
    return { status: 'ok', instance: this.config.KEYFLOW_INSTANCE };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: Redis, RabbitMQ and the database are all reachable',
    description: 'Checked at most once a second per instance; every caller within that second gets the same answer.',
  })
  @ApiProblemResponses(503)
  ready(): Promise<HealthCheckResult> {
    return this.readiness();
  }
}
