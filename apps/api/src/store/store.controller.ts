import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Put, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCookieAuth,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, OptionalPrincipal } from '../auth/access.decorator';
import { requireKeyAccess } from '../auth/key-access.util';
import type { Principal } from '../auth/principal';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { KeyPipe } from '../common/key.pipe';
import { OperationAcceptedDto } from '../kv/dto/kv.dto';
import { expiresAtMember } from '../kv/kv-response.util';
import { KvService } from '../kv/kv.service';
import { sendWriteResult } from '../kv/write-response.util';
import { StoreGetResponseDto, StorePutDto, StorePutResponseDto } from './dto/store.dto';

/** Routes of the reference KV store, so its existing clients work unchanged. Same semantics as /v1/kv. */
@ApiTags('store (reference-compatible)')
@ApiBearerAuth()
@ApiCookieAuth()
@Controller('store')
export class StoreController {
  constructor(private readonly kv: KvService) {}

  @Put()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Write a key (reference API)',
    description:
      'Answers 200 with the value once the write is accepted. `ttl` (seconds) makes the key expire, as on ' +
      '`PUT /v1/kv/{key}`.',
  })
  @ApiOkResponse({ type: StorePutResponseDto })
  @ApiProblemResponses(400, 401, 403, 413, 415, 503)
  async put(
    @Body() body: StorePutDto,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StorePutResponseDto> {
    const key = new KeyPipe().transform(body.key);
    requireKeyAccess(principal, key, 'write');
    const result = await this.kv.put(key, body.value, {
      waitMs: 0,
      ...(body.ttl !== undefined ? { ttl: body.ttl } : {}),
      owner: principal.userId,
      requestId: reply.request.id,
    });
    const operationId = result.kind === 'accepted' ? result.accepted.operationId : result.outcome.id;
    void reply.header('location', `/v1/operations/${operationId}`);
    return { key, value: body.value, operationId };
  }

  @Get(':key')
  @ApiOperation({ summary: 'Read a key (reference API)' })
  @ApiParam({ name: 'key', example: 'user:42' })
  @ApiOkResponse({ type: StoreGetResponseDto })
  @ApiProblemResponses(400, 401, 403, 404, 503)
  async get(
    @Param('key', KeyPipe) key: string,
    @OptionalPrincipal() principal: Principal | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    requireKeyAccess(principal, key, 'read');
    const read = await this.kv.get(key);
    void reply.header('etag', `"${read.version}"`).type('application/json');
    return `{"value":${read.valueJson}${expiresAtMember(read)}}`;
  }

  @Delete(':key')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Delete a key (reference API)' })
  @ApiParam({ name: 'key', example: 'user:42' })
  @ApiAcceptedResponse({ type: OperationAcceptedDto })
  @ApiProblemResponses(400, 401, 403, 503)
  async delete(
    @Param('key', KeyPipe) key: string,
    @CurrentPrincipal() principal: Principal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    requireKeyAccess(principal, key, 'write');
    sendWriteResult(
      reply,
      await this.kv.delete(key, { waitMs: 0, owner: principal.userId, requestId: reply.request.id }),
    );
  }
}
