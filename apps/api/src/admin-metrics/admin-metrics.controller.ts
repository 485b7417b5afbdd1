import { Controller, Get, Query, ServiceUnavailableException } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { MetricsUnavailableError } from './admin-metrics.exception';
import { AdminMetricsService } from './admin-metrics.service';
import { MetricsQueryDto, MetricsResponseDto } from './dto/admin-metrics.dto';

@ApiTags('admin')
@Controller('v1/admin/metrics')
export class AdminMetricsController {
  constructor(private readonly metrics: AdminMetricsService) {}

  @Get()
  @Access('admin')
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Charts of the deployment from Prometheus: a fixed set of panels over a time window (admins only)',
    description:
      'Request rate and 5xx ratio per API instance, write visibility p99, shard backlog, replication lag (bytes) and instances up, each from one Prometheus `query_range` the API makes (PROMETHEUS_URL). The panels are fixed: no query is taken from the caller. 503 when the API has no Prometheus or it does not answer.',
  })
  @ApiOkResponse({ type: MetricsResponseDto })
  @ApiProblemResponses(400, 401, 403, 503)
  async panels(@Query() query: MetricsQueryDto): Promise<MetricsResponseDto> {
    try {
      return await this.metrics.panels(query.window ?? '15m');
    } catch (err) {
      // Not a domain error of the key-value store: the API serves on without its monitoring, so this stays here.
      if (err instanceof MetricsUnavailableError) throw new ServiceUnavailableException(err.message);
      throw err;
    }
  }
}
