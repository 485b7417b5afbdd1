import { type DynamicModule, Module } from '@nestjs/common';
import { RuntimeModule } from '@keyflow/runtime';
import { AdminMetricsModule } from './admin-metrics/admin-metrics.module';
import { AuthModule } from './auth/auth.module';
import { BackupModule } from './backup/backup.module';
import { ClusterModule } from './cluster/cluster.module';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { API_CONFIG, type ApiConfig } from './config/api.config';
import { HealthController } from './health/health.controller';
import { StatusController } from './health/status.controller';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { KvBulkService } from './kv/kv-bulk.service';
import { KvCollectionController } from './kv/kv-collection.controller';
import { KvListService } from './kv/kv-list.service';
import { KvController } from './kv/kv.controller';
import { KvService } from './kv/kv.service';
import { OperationWaiter } from './kv/operation-waiter.service';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { OperationsController } from './operations/operations.controller';
import { OperationsService } from './operations/operations.service';
import { StoreController } from './store/store.controller';
import { WatchModule } from './watch/watch.module';

@Module({})
export class AppModule {
  /** The config is loaded and validated before Nest starts, then provided as a value. */
  static forRoot(config: ApiConfig): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        RuntimeModule.forRoot(config, {
          accessLog: true,
          writePoolName: `${config.KEYFLOW_INSTANCE}-write`,
          // Reads that need not be strong go to the replicas.
          readPool: { url: config.DATABASE_READ_URL, applicationName: `${config.KEYFLOW_INSTANCE}-read` },
          // A slow cache read degrades to the database rather than holding the request.
          redisCommandTimeoutMs: 500,
        }),
        InfrastructureModule,
        AdminMetricsModule,
        AuthModule,
        BackupModule,
        ClusterModule,
        DeadLettersModule,
        WatchModule,
      ],
      controllers: [
        KvController,
        KvCollectionController,
        StoreController,
        OperationsController,
        HealthController,
        StatusController,
        MetricsController,
      ],
      providers: [
        { provide: API_CONFIG, useValue: config },
        KvService,
        KvListService,
        KvBulkService,
        OperationWaiter,
        OperationsService,
        MetricsService,
      ],
      exports: [API_CONFIG],
    };
  }
}
