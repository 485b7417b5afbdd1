import { Body, Controller, Get, Headers, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiCookieAuth,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { CurrentPrincipal, OptionalPrincipal } from '../auth/access.decorator';
import { requireKeyAccess, requirePrefixScope } from '../auth/key-access.util';
import type { Principal } from '../auth/principal';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { sendBulkResult } from './bulk-response.util';
import { parseBulkOperations } from './bulk-operations.util';
import { KvBulkOperationDto, KvBulkRequestDto, KvBulkResponseDto, KvListResponseDto } from './dto/kv-collection.dto';
import { KvBulkService } from './kv-bulk.service';
import { KvListService } from './kv-list.service';
import { parseListQuery } from './list-query.util';
import { parseWriteHeaders, type WriteHeaders } from './write-preconditions.util';

/** `/v1/kv` itself: listing keys by prefix, and bulk writes. Single keys are `KvController`'s (`/v1/kv/{key}`). */
@ApiTags('kv')
@ApiBearerAuth()
@ApiCookieAuth()
@ApiExtraModels(KvBulkOperationDto)
@Controller('v1/kv')
export class KvCollectionController {
  constructor(
    private readonly lists: KvListService,
    private readonly bulk: KvBulkService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'List keys by prefix',
    description: [
      'Live keys whose name starts with `prefix`, in UTF-8 byte order, `limit` at a time (1–1000, default 100).',
      'Pass the answer’s `cursor` to get the next page; it is `null` on the last page. Paging returns every key that',
      'exists from the first page to the last exactly once, even while other keys are written; a key created or',
      'deleted meanwhile may or may not appear. Deleted and expired keys never appear. Values read back exactly as',
      '`GET /v1/kv/{key}` answers them; `keysOnly=true` leaves them out. Reads a replica unless `consistency=strong`.',
      'Only keys your grants let you read are listed: a prefix wider than your grants lists the granted keys under it',
      '(such a listing may end with an empty page), and a prefix outside all of them is refused with 403.',
    ].join(' '),
  })
  @ApiQuery({ name: 'prefix', required: false, type: String, example: 'user:', description: 'Default: every key.' })
  @ApiQuery({ name: 'limit', required: false, example: 100, schema: { type: 'integer', minimum: 1, maximum: 1000 } })
  @ApiQuery({ name: 'cursor', required: false, type: String, description: 'The previous page’s `cursor`, unchanged.' })
  @ApiQuery({ name: 'keysOnly', required: false, schema: { type: 'boolean', default: false } })
  @ApiQuery({
    name: 'consistency',
    required: false,
    enum: ['eventual', 'strong'],
    description: '`strong` reads the database primary: it sees every write applied so far.',
  })
  @ApiOkResponse({
    type: KvListResponseDto,
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/KvListResponseDto' },
        example: {
          items: [
            { key: 'user:42', value: { name: 'Ada' }, version: 3, updatedAt: '2026-11-23T10:15:30.123Z' },
            {
              key: 'user:43',
              value: 'Grace',
              version: 1,
              updatedAt: '2026-11-23T10:16:00.000Z',
              expiresAt: '2026-11-24T10:16:00.000Z',
            },
          ],
          cursor: 'eyJ2IjoxLCJwIjoidXNlcjoiLCJrIjoidXNlcjo0MyJ9',
        },
      },
    },
  })
  @ApiProblemResponses(400, 401, 403, 503)
  async list(
    @Query() query: Record<string, unknown>,
    @OptionalPrincipal() principal: Principal | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const listQuery = parseListQuery(query);
    const page = await this.lists.list(listQuery, requirePrefixScope(principal, listQuery.prefix));
    void reply.type('application/json');
    return page.json;
  }

  @Post()
  @ApiOperation({
    summary: 'Write many keys (bulk)',
    description: [
      'Up to 1000 puts and deletes, 8 MiB in all. Each operation is a single write, as `PUT`/`DELETE /v1/kv/{key}`',
      'would make it: its own operation id, version, `ifMatch` condition (checked when applied) and outcome. It is',
      'not a transaction: some operations may be applied and others end in `conflict`. Operations on one key are',
      'applied in request order. Answered 202 once the broker has confirmed every operation (follow each at',
      '`/v1/operations/{operationId}`); with `Prefer: wait=N`, 200 with every outcome once all are applied (202 with',
      'those known if N seconds pass first). The request is checked whole first: one bad operation refuses it, naming',
      'the operation (`operations[7].key: …`), and nothing is written; so does a key your grants do not let you',
      'write (403). `Idempotency-Key` makes a retry safe: each',
      'operation takes effect once. If some operations could not be accepted, the answer is a problem (503) whose',
      '`operations` member says, per operation, which were accepted; retry with the same Idempotency-Key.',
    ].join(' '),
  })
  @ApiBody({
    type: KvBulkRequestDto,
    examples: {
      mixed: {
        summary: 'puts (one with a TTL, one conditional) and a delete',
        value: {
          operations: [
            { op: 'put', key: 'user:42', value: { name: 'Ada' }, ttl: 3600 },
            { op: 'put', key: 'user:43', value: 'Grace', ifMatch: 2 },
            { op: 'delete', key: 'user:44' },
          ],
        },
      },
    },
  })
  @ApiHeader({ name: 'Prefer', required: false, description: '`wait=N`: wait up to N seconds (max 60) for outcomes.' })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retry with the same key and body applies nothing twice; another body under it gets 422.',
  })
  @ApiAcceptedResponse({ type: KvBulkResponseDto, description: 'Every operation is confirmed by the broker.' })
  @ApiOkResponse({
    type: KvBulkResponseDto,
    description: 'With `Prefer: wait`: every operation finished.',
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/KvBulkResponseDto' },
        example: {
          operations: [
            {
              operationId: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b',
              key: 'user:42',
              status: 'applied',
              version: 1,
              created: true,
            },
            {
              operationId: '0f6b1f52-8c3c-4a8e-b1a4-5b7c2d9e0a13',
              key: 'user:43',
              status: 'conflict',
              currentVersion: 5,
            },
            { operationId: '5e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b', key: 'user:44', status: 'applied', version: 8 },
          ],
        },
      },
    },
  })
  @ApiProblemResponses(400, 401, 403, 412, 413, 415, 422, 503)
  async write(
    @Body() body: KvBulkRequestDto,
    @Headers() headers: WriteHeaders,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (headers['if-match'] !== undefined || headers['if-none-match'] !== undefined) {
      throw new DomainError(
        ErrorCode.INVALID_REQUEST,
        'a bulk write takes its conditions per operation ("ifMatch"), not as If-Match or If-None-Match headers',
      );
    }
    const operations = parseBulkOperations(body.operations);
    // Every key is checked before anything is sent: a bulk request with one key outside the grants writes nothing.
    operations.forEach((operation, index) => {
      try {
        requireKeyAccess(principal, operation.key, 'write');
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        throw new DomainError(ErrorCode.FORBIDDEN, `operations[${index}]: ${err.message}; nothing was written`);
      }
    });
    const { waitMs, idempotencyKey } = parseWriteHeaders({
      ...(headers.prefer !== undefined ? { prefer: headers.prefer } : {}),
      ...(headers['idempotency-key'] !== undefined ? { 'idempotency-key': headers['idempotency-key'] } : {}),
    });
    const result = await this.bulk.write(operations, {
      waitMs,
      owner: principal.userId,
      requestId: request.id,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    sendBulkResult(request, reply, result, waitMs > 0);
  }
}
