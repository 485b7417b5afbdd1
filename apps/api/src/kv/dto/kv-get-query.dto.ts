import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

export class KvGetQueryDto {
  @ApiPropertyOptional({
    enum: ['eventual', 'strong'],
    default: 'eventual',
    description: '`strong` reads the database primary and skips the cache: it sees every write applied so far.',
  })
  @IsOptional()
  @IsIn(['eventual', 'strong'], { message: 'consistency must be eventual or strong' })
  consistency?: 'eventual' | 'strong';
}
