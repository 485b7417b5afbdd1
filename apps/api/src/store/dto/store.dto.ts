import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString } from 'class-validator';
import { IsPresent } from '../../kv/dto/kv.dto';
import { ANY_JSON_VALUE } from '../../common/json-value.schema';

export class StorePutDto {
  @ApiProperty({ example: 'user:42', description: '1–512 bytes of UTF-8, no control characters.' })
  @IsString({ message: 'key must be a string' })
  key!: string;

  @ApiProperty({
    example: { name: 'Ada' },
    description: 'Any JSON value, at most 1 MiB serialised; the same rules as `PUT /v1/kv/{key}`.',
    ...ANY_JSON_VALUE,
  })
  @Transform(({ obj }: { obj: Record<string, unknown> }) => obj.value, { toClassOnly: true })
  @IsPresent()
  value!: unknown;
}

export class StorePutResponseDto {
  @ApiProperty({ example: 'user:42' })
  key!: string;

  @ApiProperty({ example: { name: 'Ada' }, ...ANY_JSON_VALUE })
  value!: unknown;

  @ApiProperty({ example: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b' })
  operationId!: string;
}

export class StoreGetResponseDto {
  @ApiProperty({ example: { name: 'Ada' }, ...ANY_JSON_VALUE })
  value!: unknown;
}
