import { type DynamicModule, Module } from '@nestjs/common';
import { ShardCoordinator } from './apply/shard-coordinator.service';
import { WriteApplier } from './apply/write-applier.service';
import { WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { HealthServer } from './health/health.server';
import { InfrastructureModule } from './infrastructure/infrastructure.module';

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: WorkerModule,
      global: true,
      imports: [InfrastructureModule],
      providers: [{ provide: WORKER_CONFIG, useValue: config }, WriteApplier, ShardCoordinator, HealthServer],
      exports: [WORKER_CONFIG],
    };
  }
}
