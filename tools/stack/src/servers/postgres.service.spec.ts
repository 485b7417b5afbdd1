import { describe, expect, it } from 'vitest';
import { testSecrets, testTopology } from '../stack.fixture';
import {
  clusterParameters,
  patroniConfig,
  PG_HBA,
  postgresProcessName,
  requireFailover,
  scramVerifier,
} from './postgres.service';

describe(postgresProcessName.name, () => {
  it('should name processes after the node without its pg- prefix', () => {
    expect(postgresProcessName('pg-1')).toBe('postgres-1');
    expect(postgresProcessName('pg-primary')).toBe('postgres-primary');
    expect(postgresProcessName('db1')).toBe('postgres-db1');
  });
});

describe(clusterParameters.name, () => {
  it('should keep fsync and synchronous commit on, and WAL hints for pg_rewind', () => {
    const durable = {
      fsync: 'on',
      synchronous_commit: 'on',
      wal_level: 'replica',
      wal_log_hints: 'on',
      hot_standby: 'on',
    };
    expect(clusterParameters()).toMatchObject(durable);
  });
});

describe(patroniConfig.name, () => {
  it('should run a node under Patroni with synchronous mode, pg_rewind and its REST API on loopback', () => {
    const { topology, layout } = testTopology();
    const db = requireFailover(topology.database);
    const node = db.nodes[1];
    if (!node) throw new Error('the test topology has no second database node');
    const config = patroniConfig(node, db, layout, testSecrets().postgres);
    expect(config).toMatchObject({
      scope: 'keyflow-test',
      name: 'pg-2',
      restapi: {
        listen: '127.0.0.1:18009',
        connect_address: '127.0.0.1:18009',
        authentication: { username: 'patroni', password: 'patroni-pw' },
      },
      etcd: { hosts: '127.0.0.1:12379' },
      bootstrap: {
        dcs: {
          ttl: 10,
          loop_wait: 2,
          retry_timeout: 4,
          synchronous_mode: true,
          failsafe_mode: false,
          postgresql: { use_pg_rewind: true, use_slots: true },
        },
      },
      postgresql: {
        listen: '127.0.0.1:15502',
        data_dir: '/tmp/keyflow-test/data/postgres/pg-2',
        authentication: {
          superuser: { username: 'postgres', password: 'pg-super-pw' },
          replication: { username: 'replicator', password: 'pg-repl-pw' },
          rewind: { username: 'rewinder', password: 'pg-rewind-pw' },
        },
        pg_hba: PG_HBA,
      },
    });
  });

  it('should ask every connection for a SCRAM password, the local socket included, and trust none', () => {
    expect(PG_HBA.length).toBeGreaterThan(0);
    for (const line of PG_HBA) expect(line).toMatch(/\sscram-sha-256$/);
    expect(PG_HBA.some((l) => l.startsWith('local '))).toBe(true);
  });
});

describe(scramVerifier.name, () => {
  it("should make a verifier in PostgreSQL's format (salt, stored key, server key), never holding the password", () => {
    // That PostgreSQL accepts it is proven by every stack start: the apps log in with the password it was made from.
    const salt = Buffer.from('c2FsdHNhbHRzYWx0c2FsdA==', 'base64');
    const verifier = scramVerifier('pencil', salt);
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:c2FsdHNhbHRzYWx0c2FsdA==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(verifier).toBe(scramVerifier('pencil', salt));
    expect(verifier).not.toContain('pencil');
    expect(scramVerifier('pencil')).not.toBe(scramVerifier('pencil'));
  });
});

describe(requireFailover.name, () => {
  it('should refuse a PostgreSQL topology without a failover manager', () => {
    const { topology } = testTopology();
    const { failover: _failover, ...bare } = topology.database;
    expect(() => requireFailover(bare)).toThrow(/database\.failover/);
  });
});
