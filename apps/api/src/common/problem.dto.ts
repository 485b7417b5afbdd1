import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** RFC 9457 problem details, the body of every error keyflow answers. */
export class ProblemDto {
  @ApiProperty({ example: 'https://keyflow.dev/problems/invalid-key', description: 'Identifies the kind of problem.' })
  type!: string;

  @ApiProperty({ example: 'Invalid key' })
  title!: string;

  @ApiProperty({ example: 400 })
  status!: number;

  @ApiProperty({ example: 'the key is 600 bytes of UTF-8; the limit is 512' })
  detail!: string;

  @ApiProperty({ example: '/v1/kv/my-key', description: 'The request path.' })
  instance!: string;

  @ApiProperty({ example: '4f1c2d8e9a7b6c5d', description: 'Correlation id; the gateway sets it as X-Request-Id.' })
  requestId!: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['value must be present (any JSON, null included)'],
    description: 'Every validation failure, when there are several.',
  })
  errors?: string[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
