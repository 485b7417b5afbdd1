import { Controller, Get } from '@nestjs/common';
import { ShardCoordinator } from '../apply/shard-coordinator.service';

/** The shards this worker holds, its home shards and the worker group it sees (read by the write-path bench). */
@Controller('shards')
export class ShardsController {
  constructor(private readonly coordinator: ShardCoordinator) {}

  @Get()
  shards(): ReturnType<ShardCoordinator['shards']> {
    return this.coordinator.shards();
  }
}
