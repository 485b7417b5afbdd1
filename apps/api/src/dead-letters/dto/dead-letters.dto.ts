import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class DeadLetterListQueryDto {
  @ApiPropertyOptional({ default: 0, minimum: 0, description: 'Letters to skip from the head of the queue.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100_000)
  offset?: number;

  @ApiPropertyOptional({ default: 20, minimum: 1, maximum: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class DeadLetterDto {
  @ApiPropertyOptional({ format: 'uuid' })
  operationId?: string;

  @ApiPropertyOptional({ example: 'user:42' })
  key?: string;

  @ApiPropertyOptional({ example: 'put' })
  type?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the API accepted the write.' })
  acceptedAt?: string;

  @ApiProperty({ example: 'rejected', description: 'Why the broker dead-lettered it (or the worker’s reason).' })
  reason!: string;

  @ApiPropertyOptional({ example: 'kv.shard.3' })
  fromQueue?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  deadLetteredAt?: string;

  @ApiProperty({ example: 182, description: 'The message’s size.' })
  bytes!: number;
}

export class DeadLetterListResponseDto {
  @ApiProperty({ example: 3, description: 'Letters in the queue when asked.' })
  total!: number;

  @ApiProperty({ example: 0 })
  offset!: number;

  @ApiProperty({ type: [DeadLetterDto] })
  items!: DeadLetterDto[];
}

export class DeadLetterReplayResponseDto {
  @ApiProperty({
    enum: ['replayed', 'settled', 'refused', 'failed'],
    description:
      '`replayed`: back on its shard queue, to apply only at the key version checked now; `settled`: it had an outcome already, the letter is removed; `refused`: replaying it now could reorder writes (see messages); `failed`: the broker or database failed, the letter stays.',
  })
  result!: 'replayed' | 'settled' | 'refused' | 'failed';

  @ApiProperty({ type: [String], description: 'What the replay did, as `npm run dlq -- replay` prints it.' })
  messages!: string[];
}
