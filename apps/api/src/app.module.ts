import { type DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { AuthModule } from './auth/auth.module';
import { API_CONFIG, type ApiConfig } from './config/api.config';
import { DependencyHealthIndicator } from './health/dependency-health.indicator';
import { HealthController } from './health/health.controller';
import { StatusController } from './health/status.controller';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { apiLoggerParams } from './logging/logger-params.util';
import { KvController } from './kv/kv.controller';
import { KvService } from './kv/kv.service';
import { OperationWaiter } from './kv/operation-waiter.service';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { OperationsController } from './operations/operations.controller';
import { OperationsService } from './operations/operations.service';
import { StoreController } from './store/store.controller';

@Module({})
export class AppModule {
  /** The config is loaded and validated before Nest starts, then provided as a value. */
  static forRoot(config: ApiConfig): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        LoggerModule.forRoot(apiLoggerParams(config)),
        InfrastructureModule,
        AuthModule,
        TerminusModule.forRoot({ logger: false, errorLogStyle: 'json' }),
      ],
      controllers: [
        KvController,
        StoreController,
        OperationsController,
        HealthController,
        StatusController,
        MetricsController,
      ],
      providers: [
        { provide: API_CONFIG, useValue: config },
        KvService,
        OperationWaiter,
        OperationsService,
        DependencyHealthIndicator,
        MetricsService,
      ],
      exports: [API_CONFIG],
    };
  }
}
