import { describe, expect, it } from 'vitest';
import { ConfigError } from '@keyflow/contracts';
import { loadApiConfig } from './api.config';

const valid = {
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5700',
  REDIS_NODES: '127.0.0.1:7001, 127.0.0.1:7002',
  DATABASE_URL: 'postgres://keyflow@127.0.0.1:6501/keyflow',
};

describe(loadApiConfig.name, () => {
  it('should apply defaults and split lists', () => {
    const config = loadApiConfig(valid);
    expect(config.REDIS_NODES).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
    expect(config.AMQP_URL).toEqual(['amqp://guest:guest@127.0.0.1:5700']);
    expect(config.DATABASE_READ_URL).toBe(valid.DATABASE_URL);
    expect(config.KV_SHARDS).toBe(16);
    expect(config.READS_REQUIRE_AUTH).toBe(true);
    expect(config.TRUSTED_ORIGINS).toEqual([]);
  });

  it('should read the auth settings', () => {
    const config = loadApiConfig({
      ...valid,
      READS_REQUIRE_AUTH: 'false',
      TRUSTED_ORIGINS: 'https://Console.example, http://127.0.0.1:5173',
    });
    expect(config.READS_REQUIRE_AUTH).toBe(false);
    expect(config.TRUSTED_ORIGINS).toEqual(['https://console.example', 'http://127.0.0.1:5173']);
    expect(() => loadApiConfig({ ...valid, READS_REQUIRE_AUTH: 'yes', TRUSTED_ORIGINS: 'console' })).toThrow(
      /READS_REQUIRE_AUTH.*\n.*TRUSTED_ORIGINS/s,
    );
  });

  it('should believe forwarded headers only from the proxies it is given (private networks by default)', () => {
    expect(loadApiConfig(valid).TRUSTED_PROXIES).toEqual(['uniquelocal']);
    expect(loadApiConfig({ ...valid, TRUSTED_PROXIES: '127.0.0.21, 127.0.0.22,' }).TRUSTED_PROXIES).toEqual([
      '127.0.0.21',
      '127.0.0.22',
    ]);
    expect(() => loadApiConfig({ ...valid, TRUSTED_PROXIES: ' , ' })).toThrow(/TRUSTED_PROXIES/);
  });

  it('should bound waiters and shed load before the heap runs out, by default', () => {
    const config = loadApiConfig(valid);
    expect(config.MAX_PREFER_WAITERS).toBe(1_000);
    expect(config.LOAD_SHED_HEAP_USED_RATIO).toBe(0.85);
    expect(config.LOAD_SHED_RSS_BYTES).toBe(0);
    expect(config.LOAD_SHED_RETRY_AFTER_S).toBe(2);
    expect(() => loadApiConfig({ ...valid, LOAD_SHED_HEAP_USED_RATIO: '1.5', MAX_PREFER_WAITERS: '-1' })).toThrow(
      /MAX_PREFER_WAITERS.*\n.*LOAD_SHED_HEAP_USED_RATIO/s,
    );
  });

  it('should list every bad key at once', () => {
    let error: ConfigError | undefined;
    try {
      loadApiConfig({ PORT: 'eighty', REDIS_NODES: 'nohost', DATABASE_URL: 'mysql://x' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'AMQP_URL', 'REDIS_NODES.0', 'DATABASE_URL']);
  });
});
