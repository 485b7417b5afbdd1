import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { OutcomeNotifier } from './apply/outcome-notifier.service';
import { ShardCoordinator } from './apply/shard-coordinator.service';
import { WriteApplier } from './apply/write-applier.service';
import { WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { DeadLetterAuditor } from './dead-letter/dead-letter-audit.service';
import { WorkerMetrics } from './metrics/worker-metrics.service';
import { HealthServer } from './health/health.server';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { workerLoggerParams } from './logging/logger-params.util';
import { RetentionService } from './retention/retention.service';

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: WorkerModule,
      global: true,
      imports: [LoggerModule.forRoot(workerLoggerParams(config)), InfrastructureModule],
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        WriteApplier,
        OutcomeNotifier,
        ShardCoordinator,
        DeadLetterAuditor,
        RetentionService,
        HealthServer,
        WorkerMetrics,
      ],
      exports: [WORKER_CONFIG],
    };
  }
}
