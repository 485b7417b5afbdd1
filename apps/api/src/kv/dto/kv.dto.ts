import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ValidateBy, type ValidationOptions } from 'class-validator';
import { ANY_JSON_VALUE } from '../../common/json-value.schema';

/** `value` may be any JSON, `null` included, but it must be there. */
export function IsPresent(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPresent',
      validator: {
        validate: (value: unknown) => value !== undefined,
        defaultMessage: (args) => `${args?.property ?? 'value'} must be present (any JSON, null included)`,
      },
    },
    options,
  );
}

/** Keeps the value exactly as parsed: class-transformer must not rebuild arbitrary JSON. */
const rawValue = Transform(({ obj }: { obj: Record<string, unknown> }) => obj.value, { toClassOnly: true });

export class KvPutDto {
  @ApiProperty({
    description:
      'Any JSON value (object, array, string, number, boolean or null), at most 1 MiB serialised, nested at most ' +
      '64 deep. It reads back as written: a number a double does not hold exactly (`12345678901234567890123`, ' +
      '`1e999999`), U+0000, a lone surrogate or a repeated member name is refused with 400 `invalid-value`.',
    example: { name: 'Ada', languages: ['en', 'fr'] },
    ...ANY_JSON_VALUE,
  })
  @rawValue
  @IsPresent()
  value!: unknown;
}

export class KvEntryResponseDto {
  @ApiProperty({ example: 'user:42' })
  key!: string;

  @ApiProperty({
    example: { name: 'Ada', languages: ['en', 'fr'] },
    description: 'The stored JSON value.',
    ...ANY_JSON_VALUE,
  })
  value!: unknown;

  @ApiProperty({ example: 3, description: 'Raised by one on every applied write to this key, deletes included.' })
  version!: number;

  @ApiProperty({ example: '2026-11-23T10:15:30.123Z' })
  updatedAt!: string;
}

export class OperationAcceptedDto {
  @ApiProperty({ example: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b' })
  operationId!: string;

  @ApiProperty({ example: 'user:42' })
  key!: string;

  @ApiProperty({ example: 'accepted', enum: ['accepted'] })
  status!: 'accepted';
}

export class OperationResponseDto {
  @ApiProperty({ example: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b' })
  id!: string;

  @ApiProperty({ example: 'user:42' })
  key!: string;

  @ApiProperty({ enum: ['put', 'delete'], example: 'put' })
  type!: 'put' | 'delete';

  @ApiProperty({
    enum: ['accepted', 'applied', 'conflict', 'failed'],
    example: 'applied',
    description: '`conflict`: a conditional write whose condition did not hold when applied; nothing was written.',
  })
  status!: 'accepted' | 'applied' | 'conflict' | 'failed';

  @ApiPropertyOptional({
    example: 3,
    description: 'Applied: the version the write produced. Conflict: the key’s version at that point (0: absent).',
  })
  version?: number;

  @ApiPropertyOptional({ example: 'malformed write message: id must be a UUID', description: 'Why it failed.' })
  error?: string;

  @ApiProperty({ example: '2026-11-23T10:15:30.100Z' })
  acceptedAt!: string;

  @ApiPropertyOptional({ example: '2026-11-23T10:15:30.140Z' })
  finishedAt?: string;
}

export class WriteAppliedDto {
  @ApiProperty({ example: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b' })
  operationId!: string;

  @ApiProperty({ example: 'user:42' })
  key!: string;

  @ApiProperty({ example: 'applied', enum: ['applied'] })
  status!: 'applied';

  @ApiProperty({ example: 4 })
  version!: number;
}
