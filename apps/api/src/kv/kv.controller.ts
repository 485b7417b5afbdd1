import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Put, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { KeyPipe } from '../common/key.pipe';
import { KvGetQueryDto } from './dto/kv-get-query.dto';
import { KvEntryResponseDto, KvPutDto, OperationAcceptedDto } from './dto/kv.dto';
import { entryBody, etag } from './kv-response.util';
import { KvService } from './kv.service';

const KEY_PARAM = {
  name: 'key',
  description: '1–512 bytes of UTF-8, no control characters. Percent-encode reserved characters (`/` as `%2F`).',
  example: 'user:42',
};

@ApiTags('kv')
@Controller('v1/kv')
export class KvController {
  constructor(private readonly kv: KvService) {}

  @Get(':key')
  @ApiOperation({
    summary: 'Read a key',
    description: 'Eventually consistent: served from the cache, falling back to the database. Add `?consistency=strong` to read the primary.',
  })
  @ApiParam(KEY_PARAM)
  @ApiOkResponse({ type: KvEntryResponseDto, headers: { ETag: { description: 'The version, quoted: `"3"`.' } } })
  @ApiProblemResponses(400, 404, 503)
  async get(
    @Param('key', KeyPipe) key: string,
    @Query() query: KvGetQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const read = await this.kv.get(key, { strong: query.consistency === 'strong' });
    void reply.header('etag', etag(read.version)).type('application/json');
    return entryBody(read);
  }

  @Put(':key')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Write a key',
    description:
      'Accepted once the broker has confirmed the write into its shard’s quorum queue. Poll the operation at `Location` to see it applied.',
  })
  @ApiParam(KEY_PARAM)
  @ApiBody({ type: KvPutDto })
  @ApiAcceptedResponse({ type: OperationAcceptedDto, headers: { Location: { description: '`/v1/operations/{id}`' } } })
  @ApiProblemResponses(400, 413, 415, 503)
  async put(
    @Param('key', KeyPipe) key: string,
    @Body() body: KvPutDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OperationAcceptedDto> {
    const accepted = await this.kv.put(key, body.value);
    void reply.header('location', `/v1/operations/${accepted.operationId}`);
    return accepted;
  }

  @Delete(':key')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Delete a key', description: 'Accepted like a write; the delete raises the key’s version too.' })
  @ApiParam(KEY_PARAM)
  @ApiHeader({ name: 'Content-Type', required: false, description: 'No body is needed.' })
  @ApiAcceptedResponse({ type: OperationAcceptedDto, headers: { Location: { description: '`/v1/operations/{id}`' } } })
  @ApiProblemResponses(400, 503)
  async delete(@Param('key', KeyPipe) key: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<OperationAcceptedDto> {
    const accepted = await this.kv.delete(key);
    void reply.header('location', `/v1/operations/${accepted.operationId}`);
    return accepted;
  }
}
