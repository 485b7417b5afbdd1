import { describe, expect, it } from 'vitest';
import { postgresProcessName, postgresSettings } from './postgres.service';

describe(postgresProcessName.name, () => {
  it('should name processes after the node without its pg- prefix', () => {
    expect(postgresProcessName('pg-primary')).toBe('postgres-primary');
    expect(postgresProcessName('pg-replica-1')).toBe('postgres-replica-1');
    expect(postgresProcessName('db1')).toBe('postgres-db1');
  });
});

describe(postgresSettings.name, () => {
  it('should listen on loopback only, stream WAL to replicas and keep fsync on', () => {
    const settings = postgresSettings({ host: '127.0.0.1', port: 15501 }, '/tmp/s/run/postgres');
    expect(settings).toContain("listen_addresses = '127.0.0.1'");
    expect(settings).toContain('port = 15501');
    expect(settings).toContain("unix_socket_directories = '/tmp/s/run/postgres'");
    expect(settings).toContain('wal_level = replica');
    expect(settings).toContain('hot_standby = on');
    expect(settings).toContain('fsync = on');
    expect(settings).toContain('synchronous_commit = on');
  });
});
