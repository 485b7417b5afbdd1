import { Controller, Get, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { Access, CurrentPrincipal } from '../auth/access.decorator';
import type { Principal } from '../auth/principal';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { OperationResponseDto } from '../kv/dto/kv.dto';
import { OperationsService } from './operations.service';

const OPERATION_ID = new ParseUUIDPipe({
  exceptionFactory: () => new DomainError(ErrorCode.INVALID_REQUEST, 'the operation id must be a UUID'),
});

@ApiTags('operations')
@ApiBearerAuth()
@ApiCookieAuth()
@Controller('v1/operations')
export class OperationsController {
  constructor(private readonly operations: OperationsService) {}

  @Get(':id')
  @Access('authenticated')
  @ApiOperation({
    summary: 'Follow a write',
    description:
      '`accepted` until a worker applies it; then `applied` with the version, or `failed` with the reason. An ' +
      'operation belongs to the user whose request made it: anyone else gets 404 (admins see every operation).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: OperationResponseDto })
  @ApiProblemResponses(400, 401, 404, 503)
  find(@Param('id', OPERATION_ID) id: string, @CurrentPrincipal() principal: Principal): Promise<OperationResponseDto> {
    return this.operations.find(id, { userId: principal.userId, admin: principal.role === 'admin' });
  }
}
