import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { ClusterService } from './cluster.service';
import { ClusterResponseDto } from './dto/cluster.dto';

@ApiTags('admin')
@Controller('v1/admin/cluster')
export class ClusterController {
  constructor(private readonly cluster: ClusterService) {}

  @Get()
  @Access('admin')
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Every process of the deployment and its health, the database primary, queue depths (admins only)',
    description:
      'Checked from the answering instance on each call, each check within 1.5 s. Processes come from the topology the instance was given (CLUSTER_TOPOLOGY); without one the list is empty.',
  })
  @ApiOkResponse({ type: ClusterResponseDto })
  @ApiProblemResponses(401, 403)
  describe(): Promise<ClusterResponseDto> {
    return this.cluster.describe();
  }
}
