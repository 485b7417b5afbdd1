import { ApiProperty } from '@nestjs/swagger';

export class RestoreResponseDto {
  @ApiProperty({ example: 1000, description: 'Lines in the request.' })
  received!: number;

  @ApiProperty({ example: 998, description: 'Keys inserted with their version, value, updatedAt and expiresAt.' })
  restored!: number;

  @ApiProperty({
    example: 1,
    description:
      'Keys left as they were because they exist in some form (a live key, a tombstone, a compacted tombstone): a ' +
      'restore never overwrites, so running it again changes nothing.',
  })
  existing!: number;

  @ApiProperty({ example: 1, description: 'Lines whose `expiresAt` has passed: not restored (GET would answer 404).' })
  expired!: number;
}
