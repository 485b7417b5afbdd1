import { applyDecorators, Body, Controller, Delete, Get, Headers, Param, Put, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCookieAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, OptionalPrincipal } from '../auth/access.decorator';
import { requireKeyAccess } from '../auth/key-access.util';
import type { Principal } from '../auth/principal';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { KeyPipe } from '../common/key.pipe';
import { type Consistency, ConsistencyPipe } from './consistency.pipe';
import { KvEntryResponseDto, KvPutDto, OperationAcceptedDto, WriteAppliedDto } from './dto/kv.dto';
import { entryBody, etag } from './kv-response.util';
import { KvService } from './kv.service';
import { parseWriteHeaders, type WriteHeaders as WriteHeadersDto } from './write-preconditions.util';
import { sendWriteResult } from './write-response.util';

function WriteHeaders(): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description:
        '`"<version>"` or `*`: apply only if the key is at that version / exists. Compared strongly (RFC 9110): ' +
        'a weak tag such as `W/"3"` never matches and gets 412 at once.',
    }),
    ApiHeader({ name: 'If-None-Match', required: false, description: '`*`: apply only if the key does not exist.' }),
    ApiHeader({
      name: 'Prefer',
      required: false,
      description: '`wait=N`: wait up to N seconds (max 60) for the outcome.',
    }),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'Up to 255 visible ASCII characters; a repeat writes nothing.',
    }),
  );
}

/** Response headers, each with its schema (OpenAPI 3 requires one): what client generators type them as. */
const ETAG_HEADER = { description: 'The version, quoted: `"3"`.', schema: { type: 'string', example: '"3"' } };
const LOCATION_HEADER = {
  description: 'Where to follow the operation: `/v1/operations/{id}`.',
  schema: { type: 'string', example: '/v1/operations/0f8e2d1c-6b5a-4c3d-9e8f-7a6b5c4d3e2f' },
};

const KEY_PARAM = {
  name: 'key',
  description: '1–512 bytes of UTF-8, no control characters. Percent-encode reserved characters (`/` as `%2F`).',
  example: 'user:42',
};

@ApiTags('kv')
@ApiBearerAuth()
@ApiCookieAuth()
@Controller('v1/kv')
export class KvController {
  constructor(private readonly kv: KvService) {}

  @Get(':key')
  @ApiOperation({
    summary: 'Read a key',
    description:
      'Eventually consistent: served from the cache, falling back to the database. Add `?consistency=strong` to read the primary.',
  })
  @ApiParam(KEY_PARAM)
  @ApiQuery({
    name: 'consistency',
    required: false,
    enum: ['eventual', 'strong'],
    description: '`strong` reads the database primary and skips the cache: it sees every write applied so far.',
  })
  @ApiOkResponse({ type: KvEntryResponseDto, headers: { ETag: ETAG_HEADER } })
  @ApiProblemResponses(400, 401, 403, 404, 503)
  async get(
    @Param('key', KeyPipe) key: string,
    @Query('consistency', ConsistencyPipe) consistency: Consistency,
    @OptionalPrincipal() principal: Principal | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    requireKeyAccess(principal, key, 'read');
    const read = await this.kv.get(key, { strong: consistency === 'strong' });
    void reply.header('etag', etag(read.version)).type('application/json');
    return entryBody(read);
  }

  @Put(':key')
  @ApiOperation({
    summary: 'Write a key',
    description: [
      'Accepted (202) once the broker has confirmed the write into its shard’s quorum queue; follow it at `Location`.',
      '`Prefer: wait=N` waits up to N seconds (at most 60) for the write to be applied and answers 201 (created),',
      '200 (updated) or 412 (condition failed) instead; still 202 if it is not applied by then.',
      '`If-Match: "<version>"` (or `*`) and `If-None-Match: *` make the write conditional, checked when it is applied.',
      '`Idempotency-Key` makes retries safe: a repeat returns the original operation and writes nothing.',
      '`ttl` (seconds, 1 to 31536000) makes the key expire that long after the write is accepted: it reads as 404',
      'from its `expiresAt` on and is deleted through the write path (one more version); a write without `ttl` clears',
      'an earlier one.',
    ].join(' '),
  })
  @ApiParam(KEY_PARAM)
  @ApiBody({
    type: KvPutDto,
    examples: {
      value: { summary: 'A value', value: { value: { name: 'Ada', languages: ['en', 'fr'] } } },
      ttl: { summary: 'A value that expires after 60 s', value: { value: { session: 'abc' }, ttl: 60 } },
    },
  })
  @WriteHeaders()
  @ApiAcceptedResponse({ type: OperationAcceptedDto, headers: { Location: LOCATION_HEADER } })
  @ApiCreatedResponse({ type: WriteAppliedDto, description: 'Applied and the key was created (`Prefer: wait`).' })
  @ApiOkResponse({ type: WriteAppliedDto, description: 'Applied (`Prefer: wait`).' })
  @ApiProblemResponses(400, 401, 403, 412, 413, 415, 422, 503)
  async put(
    @Param('key', KeyPipe) key: string,
    @Body() body: KvPutDto,
    @Headers() headers: WriteHeadersDto,
    @CurrentPrincipal() principal: Principal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    requireKeyAccess(principal, key, 'write');
    const options = {
      ...parseWriteHeaders(headers),
      ...(body.ttl !== undefined ? { ttl: body.ttl } : {}),
      owner: principal.userId,
      requestId: reply.request.id,
    };
    sendWriteResult(reply, await this.kv.put(key, body.value, options));
  }

  @Delete(':key')
  @ApiOperation({
    summary: 'Delete a key',
    description:
      'Accepted like a write; the delete raises the key’s version too. With `Prefer: wait`, 204 once applied.',
  })
  @ApiParam(KEY_PARAM)
  @WriteHeaders()
  @ApiAcceptedResponse({ type: OperationAcceptedDto, headers: { Location: LOCATION_HEADER } })
  @ApiNoContentResponse({ description: 'Deleted (`Prefer: wait`).' })
  @ApiProblemResponses(400, 401, 403, 412, 422, 503)
  async delete(
    @Param('key', KeyPipe) key: string,
    @Headers() headers: WriteHeadersDto,
    @CurrentPrincipal() principal: Principal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    requireKeyAccess(principal, key, 'write');
    const options = { ...parseWriteHeaders(headers), owner: principal.userId, requestId: reply.request.id };
    sendWriteResult(reply, await this.kv.delete(key, options));
  }
}
