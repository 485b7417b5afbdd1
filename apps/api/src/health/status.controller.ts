import { Controller, Get, Inject } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { DependencyHealthIndicator } from '@keyflow/runtime';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

class DependencyStatusDto {
  @ApiProperty({ enum: ['up', 'down'] })
  status!: 'up' | 'down';

  @ApiProperty({ required: false, example: 'not connected to the broker' })
  message?: string;
}

class StatusResponseDto {
  @ApiProperty({ example: 'api-1' })
  instance!: string;

  @ApiProperty({ format: 'date-time' })
  startedAt!: string;

  @ApiProperty({ example: 3600.5 })
  uptimeSeconds!: number;

  @ApiProperty({
    example: { database: { status: 'up' }, redis: { status: 'up' }, rabbitmq: { status: 'up' } },
    // The model is registered through @ApiExtraModels on the controller: a $ref to a schema nothing registers
    // resolves to nothing, and client generators stop at it.
    additionalProperties: { $ref: getSchemaPath(DependencyStatusDto) },
  })
  dependencies!: Record<string, DependencyStatusDto>;
}

const STARTED_AT = new Date(Date.now() - process.uptime() * 1000);

function flatten(results: HealthIndicatorResult[]): Record<string, DependencyStatusDto> {
  return Object.fromEntries(
    results.flatMap((r) =>
      Object.entries(r).map(([name, { status, message }]) => [
        name,
        { status, ...(typeof message === 'string' ? { message } : {}) },
      ]),
    ),
  );
}

@ApiTags('health')
@ApiExtraModels(DependencyStatusDto)
@Controller('v1/status')
export class StatusController {
  constructor(
    private readonly dependencies: DependencyHealthIndicator,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Get()
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'This instance: its name, uptime and the health of its dependencies',
    description: 'Always 200 while the process serves; a dependency that is down says so in `dependencies`.',
  })
  @ApiOkResponse({ type: StatusResponseDto })
  @ApiProblemResponses(401)
  async status(): Promise<StatusResponseDto> {
    const results = await Promise.all(this.dependencies.checks().map(async (check) => check()));
    return {
      instance: this.config.KEYFLOW_INSTANCE,
      startedAt: STARTED_AT.toISOString(),
      uptimeSeconds: Math.round(process.uptime() * 10) / 10,
      dependencies: flatten(results),
    };
  }
}
