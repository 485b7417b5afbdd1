export * from './errors/domain.error';
export * from './kv/json-text.util';
export * from './kv/key.util';
export * from './kv/kv.constant';
export * from './kv/shard.util';
export * from './messages/write-message';
export * from './messages/write-batch';
export * from './config/env-config.util';
