import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { DependencyHealthIndicator } from '@keyflow/runtime';
import { Access } from '../auth/access.decorator';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

@ApiTags('health')
@Access('public')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly dependencies: DependencyHealthIndicator,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process serves HTTP' })
  @ApiOkResponse({ schema: { example: { status: 'ok', instance: 'api-1' } } })
  live(): { status: 'ok'; instance: string } {
    return { status: 'ok', instance: this.config.KEYFLOW_INSTANCE };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: Redis, RabbitMQ and the database are all reachable' })
  @ApiProblemResponses(503)
  ready(): Promise<HealthCheckResult> {
    return this.health.check(this.dependencies.checks());
  }
}
