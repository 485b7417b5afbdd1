export * from './idempotency-store.service';
export * from './kv-cache.service';
export * from './operation-tracker.service';
export * from './redis-cluster.util';
