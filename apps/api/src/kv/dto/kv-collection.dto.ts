import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsDefined } from 'class-validator';
import { ANY_JSON_VALUE } from '../../common/json-value.schema';

export class KvListItemDto {
  @ApiProperty({ example: 'user:42' })
  key!: string;

  @ApiPropertyOptional({
    example: { name: 'Ada' },
    description: 'The stored JSON value, exactly as `GET /v1/kv/{key}` answers it; left out with `keysOnly=true`.',
    ...ANY_JSON_VALUE,
  })
  value?: unknown;

  @ApiProperty({ example: 3 })
  version!: number;

  @ApiProperty({ example: '2026-11-23T10:15:30.123Z' })
  updatedAt!: string;

  @ApiPropertyOptional({ example: '2026-11-24T10:15:30.123Z', description: 'For a key written with a `ttl`.' })
  expiresAt?: string;
}

export class KvListResponseDto {
  @ApiProperty({ type: [KvListItemDto], description: 'Live keys under the prefix, in UTF-8 byte order.' })
  items!: KvListItemDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'eyJ2IjoxLCJwIjoidXNlcjoiLCJrIjoidXNlcjo0MiJ9',
    description: 'Pass as `cursor` for the next page; `null` on the last page. Opaque: do not build or change it.',
  })
  cursor!: string | null;
}

/** One operation of a bulk write, for the OpenAPI document; the body is checked by `parseBulkOperations`. */
export class KvBulkOperationDto {
  @ApiProperty({ enum: ['put', 'delete'], example: 'put' })
  op!: 'put' | 'delete';

  @ApiProperty({ example: 'user:42', description: '1–512 bytes of UTF-8, no control characters.' })
  key!: string;

  @ApiPropertyOptional({
    example: { name: 'Ada' },
    description: 'put only, required there: any JSON, refused exactly as `PUT /v1/kv/{key}` refuses it.',
    ...ANY_JSON_VALUE,
  })
  value?: unknown;

  @ApiPropertyOptional({ example: 3600, description: 'put only: seconds until the key expires (a positive integer).' })
  ttl?: number;

  @ApiPropertyOptional({
    oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string' }],
    example: 3,
    description: 'Apply only if the key is at this version (`3` or `"\\"3\\""`), or exists (`"*"`), like `If-Match`.',
  })
  ifMatch?: number | string;
}

export class KvBulkRequestDto {
  @ApiProperty({
    type: 'array',
    items: { $ref: getSchemaPath(KvBulkOperationDto) },
    minItems: 1,
    maxItems: 1000,
    example: [
      { op: 'put', key: 'user:42', value: { name: 'Ada' }, ttl: 3600 },
      { op: 'put', key: 'user:43', value: 'Grace', ifMatch: 2 },
      { op: 'delete', key: 'user:44' },
    ],
  })
  // Kept exactly as parsed (values are arbitrary JSON): checked operation by operation by `parseBulkOperations`.
  @Transform(({ obj }: { obj: Record<string, unknown> }) => obj.operations, { toClassOnly: true })
  @IsDefined({ message: 'operations must be present: an array of 1 to 1000 operations' })
  operations!: unknown;
}

export class BulkOperationResultDto {
  @ApiProperty({ example: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b' })
  operationId!: string;

  @ApiProperty({ example: 'user:42' })
  key!: string;

  @ApiProperty({
    enum: ['accepted', 'applied', 'conflict', 'failed'],
    example: 'accepted',
    description:
      '`accepted`: confirmed by the broker, not applied yet (or not within `Prefer: wait`). With `Prefer: wait`: ' +
      '`applied` (with `version`), `conflict` (its condition did not hold: `currentVersion`) or `failed` (`error`).',
  })
  status!: 'accepted' | 'applied' | 'conflict' | 'failed';

  @ApiPropertyOptional({ example: 4, description: 'applied: the version the operation wrote.' })
  version?: number;

  @ApiPropertyOptional({ example: true, description: 'applied put: true when it created the key.' })
  created?: boolean;

  @ApiPropertyOptional({ example: 3, description: 'conflict: the key’s version then (0: absent).' })
  currentVersion?: number;

  @ApiPropertyOptional({ example: 'malformed write message: …' })
  error?: string;
}

export class KvBulkResponseDto {
  @ApiProperty({
    type: [BulkOperationResultDto],
    description: 'One entry per operation, in request order.',
    example: [
      { operationId: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b', key: 'user:42', status: 'accepted' },
      { operationId: '0f6b1f52-8c3c-4a8e-b1a4-5b7c2d9e0a13', key: 'user:43', status: 'accepted' },
    ],
  })
  operations!: BulkOperationResultDto[];
}
