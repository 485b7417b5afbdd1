import { Controller, Get, Headers, Inject, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { OptionalPrincipal } from '../auth/access.decorator';
import { requirePrefixScope } from '../auth/key-access.util';
import type { Principal } from '../auth/principal';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { openEventStream } from './event-stream.util';
import { resumeRevision } from './watch-event.util';
import { WatchService } from './watch.service';

const MAX_PREFIX_BYTES = 512;

/** A key prefix: at most a key's 512 bytes, no control characters; empty (or absent) watches every key. */
function checkedPrefix(prefix: unknown): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string') throw new DomainError(ErrorCode.INVALID_REQUEST, 'prefix may be given once');
  // eslint-disable-next-line no-control-regex
  if (Buffer.byteLength(prefix) > MAX_PREFIX_BYTES || /[\u0000-\u001f\u007f]/.test(prefix)) {
    throw new DomainError(
      ErrorCode.INVALID_REQUEST,
      `prefix must be at most ${MAX_PREFIX_BYTES} bytes of UTF-8 without control characters`,
    );
  }
  return prefix;
}

function single(value: unknown, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new DomainError(ErrorCode.INVALID_REQUEST, `${name} may be given once`);
}

const EXAMPLE = [
  'retry: 1000',
  ': watching',
  '',
  'event: put',
  'id: 1042',
  'data: {"key":"user:42","version":3,"value":{"name":"Ada"},"revision":1042,"updatedAt":"2026-12-01T14:03:12.511Z"}',
  '',
  'event: delete',
  'id: 1047',
  'data: {"key":"user:42","version":4,"revision":1047,"updatedAt":"2026-12-01T14:03:15.020Z"}',
  '',
  ': ping',
  '',
  'event: expire',
  'id: 1093',
  'data: {"key":"session:9","version":2,"revision":1093,"updatedAt":"2026-12-01T14:04:00.002Z"}',
  '',
].join('\n');

@ApiTags('watch')
@ApiBearerAuth()
@ApiCookieAuth()
@Controller('v1/watch')
export class WatchController {
  constructor(
    private readonly watches: WatchService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Watch changes under a key prefix (Server-Sent Events)',
    description: [
      'A `text/event-stream` of every applied write to a key starting with `prefix`, in order per key: one event',
      'per write, `event: put|delete|expire` (`expire`: the key’s time to live ran out), `id: <revision>`, and',
      '`data: {"key","version","value"?,"revision","updatedAt"}` (`value` for puts only, exactly as stored; `version`',
      'the version the write gave the key). Conflicts and failed writes produce no event. Revisions grow along the',
      'stream (with gaps); versions per key rise strictly.',
      'Without `Last-Event-ID` or `fromRevision` the stream starts now. With either, it sends every change after',
      'that revision, none twice and none missing, for at least the last 24 hours; an older revision gets 410: list',
      'the keys again, then watch. `fromRevision=0` replays the whole retained history.',
      'A `: ping` comment comes every 15 s; a stream ends after an hour at most (reconnect with `Last-Event-ID`).',
      'Only changes to keys your grants let you read are sent; a prefix outside all of them is refused with 403.',
    ].join(' '),
  })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'prefix', required: false, description: 'Only keys that start with it; all keys when absent.' })
  @ApiQuery({
    name: 'fromRevision',
    required: false,
    description: 'Send the changes after this revision (a whole number; `0`: all retained). `Last-Event-ID` wins.',
    example: '1042',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The `id` of the last event received: resume right after it (what an `EventSource` sends).',
  })
  @ApiOkResponse({
    description: 'The event stream; it stays open.',
    content: { 'text/event-stream': { schema: { type: 'string' }, example: EXAMPLE } },
  })
  @ApiProblemResponses(400, 401, 403, 410, 503)
  async watch(
    @Query('prefix') prefix: unknown,
    @Query('fromRevision') fromRevision: unknown,
    @Headers('last-event-id') lastEventId: string | undefined,
    @OptionalPrincipal() principal: Principal | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const after = resumeRevision(lastEventId, single(fromRevision, 'fromRevision'));
    const watched = checkedPrefix(prefix);
    const scope = requirePrefixScope(principal, watched);
    const session = await this.watches.open({
      prefix: watched,
      ...(scope.kind === 'some' ? { only: scope.prefixes } : {}),
      after,
    });
    openEventStream(reply, session, this.config.WATCH_HEARTBEAT_MS);
  }
}
