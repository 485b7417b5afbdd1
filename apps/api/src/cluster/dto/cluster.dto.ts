import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

const KINDS = ['gateway', 'api', 'worker', 'redis', 'rabbitmq', 'database', 'haproxy', 'dns', 'etcd'];

export class ClusterProcessDto {
  @ApiProperty({ example: 'api-1' })
  name!: string;

  @ApiProperty({ enum: KINDS })
  kind!: string;

  @ApiProperty({ example: '127.0.0.1:3001' })
  address!: string;

  @ApiProperty({ enum: ['up', 'down'] })
  status!: 'up' | 'down';

  @ApiPropertyOptional({ example: 'primary', description: 'Redis: master or replica; PostgreSQL: primary or replica.' })
  role?: string;

  @ApiPropertyOptional({ example: 'connect ECONNREFUSED 127.0.0.1:3001', description: 'Why it counts as down.' })
  detail?: string;

  @ApiProperty({ example: 4, description: 'How long the check took, in milliseconds.' })
  latencyMs!: number;
}

export class QueueDepthDto {
  @ApiProperty({ example: 'kv.shard.0' })
  name!: string;

  @ApiProperty({
    example: 0,
    nullable: true,
    type: Number,
    description: 'Ready messages; null when the broker did not say.',
  })
  messages!: number | null;

  @ApiProperty({ example: 1, nullable: true, type: Number })
  consumers!: number | null;
}

export class ClusterResponseDto {
  @ApiProperty({ example: 'api-1', description: 'The instance that looked.' })
  instance!: string;

  @ApiProperty({ format: 'date-time' })
  checkedAt!: string;

  @ApiProperty({
    example: 'local',
    nullable: true,
    type: String,
    description: 'null when this instance has no topology (CLUSTER_TOPOLOGY).',
  })
  topology!: string | null;

  @ApiProperty({ type: [ClusterProcessDto], description: 'Every process of the topology; empty without one.' })
  processes!: ClusterProcessDto[];

  @ApiProperty({ enum: ['postgres', 'cockroach'], nullable: true, type: String })
  databaseKind!: 'postgres' | 'cockroach' | null;

  @ApiProperty({
    example: 'pg-1',
    nullable: true,
    type: String,
    description: 'The node that takes writes now; null for CockroachDB (every node does) or when none answers.',
  })
  databasePrimary!: string | null;

  @ApiProperty({ type: [QueueDepthDto], description: 'The shard queues, then the dead-letter queue.' })
  queues!: QueueDepthDto[];

  @ApiProperty({ example: 0, nullable: true, type: Number, description: 'Letters in the dead-letter queue.' })
  deadLetters!: number | null;
}
