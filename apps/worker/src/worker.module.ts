import { type DynamicModule, Module } from '@nestjs/common';
import { RuntimeModule } from '@keyflow/runtime';
import { OutcomeNotifier } from './apply/outcome-notifier.service';
import { ShardCoordinator } from './apply/shard-coordinator.service';
import { WriteApplier } from './apply/write-applier.service';
import { WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { DeadLetterAuditor } from './dead-letter/dead-letter-audit.service';
import { ExpirySweeper } from './expiry/expiry-sweeper.service';
import { HealthController } from './health/health.controller';
import { ShardsController } from './health/shards.controller';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { MetricsController } from './metrics/metrics.controller';
import { WorkerMetrics } from './metrics/worker-metrics.service';
import { RetentionService } from './retention/retention.service';

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: WorkerModule,
      global: true,
      imports: [
        RuntimeModule.forRoot(config, {
          // Its HTTP callers are probes and Prometheus.
          accessLog: false,
          // Tests find the worker applying a shard by its session's name.
          writePoolName: config.KEYFLOW_INSTANCE,
          // Long enough for a loaded node: a cache update is retried, not degraded.
          redisCommandTimeoutMs: 2_000,
        }),
        InfrastructureModule,
      ],
      controllers: [HealthController, ShardsController, MetricsController],
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        WriteApplier,
        OutcomeNotifier,
        ShardCoordinator,
        DeadLetterAuditor,
        RetentionService,
        ExpirySweeper,
        WorkerMetrics,
      ],
      exports: [WORKER_CONFIG],
    };
  }
}
