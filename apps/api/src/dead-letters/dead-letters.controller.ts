import { Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { DeadLettersService } from './dead-letters.service';
import { DeadLetterListQueryDto, DeadLetterListResponseDto, DeadLetterReplayResponseDto } from './dto/dead-letters.dto';

@ApiTags('admin')
@Controller('v1/admin/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @Get()
  @Access('admin')
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'The writes the workers dead-lettered, from the head of the queue (admins only)',
    description: 'The same as `npm run dlq -- list --json`; the letters stay in the queue.',
  })
  @ApiOkResponse({ type: DeadLetterListResponseDto })
  @ApiProblemResponses(400, 401, 403, 503)
  list(@Query() query: DeadLetterListQueryDto): Promise<DeadLetterListResponseDto> {
    return this.deadLetters.list(query.offset ?? 0, query.limit ?? 20);
  }

  @Post(':operationId/replay')
  @Access('admin')
  @HttpCode(200)
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Replay one dead-lettered write (admins only)',
    description:
      'The same as `npm run dlq -- replay --id <operationId>` without `--force`: the write goes back to its shard queue only if that cannot reorder or repeat it, and applies only at the key version checked now.',
  })
  @ApiOkResponse({ type: DeadLetterReplayResponseDto })
  @ApiProblemResponses(400, 401, 403, 404, 503)
  replay(
    @Param('operationId', new ParseUUIDPipe({ version: undefined })) operationId: string,
  ): Promise<DeadLetterReplayResponseDto> {
    return this.deadLetters.replay(operationId);
  }
}
