export * from './config/runtime-env.util';
export * from './health/dependency-health.indicator';
export * from './infrastructure/infrastructure.tokens';
export * from './logging/logger-params.util';
export * from './metrics/metrics-registry.util';
export * from './runtime.module';
