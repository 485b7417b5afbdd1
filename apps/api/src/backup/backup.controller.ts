import { Readable } from 'node:stream';
import { Controller, Get, HttpCode, HttpException, HttpStatus, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCookieAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  BACKUP_CONTENT_TYPE,
  BACKUP_KEYS_HEADER,
  BACKUP_SNAPSHOT_HEADER,
  DomainError,
  ErrorCode,
  MAX_KEY_BYTES,
} from '@keyflow/contracts';
import { Access } from '../auth/access.decorator';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { BackupService } from './backup.service';
import { RestoreResponseDto } from './dto/backup.dto';

const LINE_EXAMPLE =
  '{"key":"user:42","value":{"name": "Ada"},"version":3,"updatedAt":"2026-11-23T10:15:30.123Z"}\n' +
  '{"key":"session:9","value":"x","version":1,"updatedAt":"2026-11-23T10:15:31.000Z","expiresAt":"2026-11-23T11:15:31.000Z"}\n';

@ApiTags('backup')
@ApiBearerAuth()
@ApiCookieAuth()
@Access('admin')
@Controller('v1/backup')
export class BackupController {
  constructor(private readonly backups: BackupService) {}

  @Get()
  @ApiOperation({
    summary: 'Back up every live key (admins only)',
    description: [
      'Streams one consistent snapshot of the database primary as NDJSON, one line per live key in key order:',
      '`{"key","value","version","updatedAt","expiresAt"?}`, the value exactly as stored. Deleted and expired keys',
      'are left out. The snapshot is one read-only transaction (REPEATABLE READ on PostgreSQL, `AS OF SYSTEM TIME`',
      'on CockroachDB), paged by key inside it: writes applied while it streams are not in it. The headers say how',
      'many lines follow, so a stream cut short is seen as such. `keyflow export` saves it to a file.',
    ].join(' '),
  })
  @ApiQuery({
    name: 'prefix',
    required: false,
    description: 'Only the keys that start with this prefix (every key when absent).',
    example: 'user:',
  })
  @ApiProduces(BACKUP_CONTENT_TYPE)
  @ApiOkResponse({
    description: 'The snapshot, one JSON line per key.',
    content: { [BACKUP_CONTENT_TYPE]: { schema: { type: 'string' }, example: LINE_EXAMPLE } },
    headers: {
      'X-Keyflow-Backup-Keys': { description: 'How many lines the body holds.', schema: { type: 'integer' } },
      'X-Keyflow-Backup-Snapshot': { description: 'When the snapshot was taken.', schema: { type: 'string' } },
    },
  })
  @ApiProblemResponses(400, 401, 403, 503)
  async export(@Query('prefix') prefix: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    if (prefix !== undefined && (typeof prefix !== 'string' || Buffer.byteLength(prefix, 'utf8') > MAX_KEY_BYTES)) {
      throw new DomainError(ErrorCode.INVALID_REQUEST, `prefix must be one string of at most ${MAX_KEY_BYTES} bytes`);
    }
    const backup = await this.backups.open(prefix);
    void reply
      .header(BACKUP_KEYS_HEADER, String(backup.keys))
      .header(BACKUP_SNAPSHOT_HEADER, backup.takenAt)
      // Stream through the gateway as it is read rather than spooling the whole backup to nginx's disk.
      .header('x-accel-buffering', 'no')
      .type(BACKUP_CONTENT_TYPE);
    const stream = Readable.from(backup.lines);
    stream.once('close', () => backup.abandon());
    await reply.send(stream);
  }

  @Post('restore')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Restore backup lines (admins only)',
    description: [
      'Takes lines of a backup (NDJSON, at most 2 MiB a request: `keyflow import` sends a file in such chunks) and',
      'inserts each key with its version, value, updatedAt and expiresAt, only where the key does not exist at all:',
      'a key that exists in any form, deleted included, is left as it is (`existing`), so a restore never overwrites',
      'and can be run again. Lines whose `expiresAt` has passed are skipped (`expired`). All or nothing per request:',
      'one bad line refuses the request with 400 naming its line number, and nothing of it is written.',
    ].join(' '),
  })
  @ApiConsumes(BACKUP_CONTENT_TYPE)
  @ApiBody({
    description: 'Backup lines, as `GET /v1/backup` writes them.',
    schema: { type: 'string', example: LINE_EXAMPLE },
  })
  @ApiOkResponse({ type: RestoreResponseDto })
  @ApiProblemResponses(400, 401, 403, 413, 415, 503)
  restore(@Req() request: FastifyRequest): Promise<RestoreResponseDto> {
    if (typeof request.body !== 'string') {
      throw new HttpException(
        `send backup lines as ${BACKUP_CONTENT_TYPE}, one JSON object a line`,
        HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      );
    }
    return this.backups.restore(request.body);
  }
}
