import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '@keyflow/topology';
import { clusterProcesses, databasePrimary } from './cluster-processes.util';

const topology = (name: string) => loadTopology(join(__dirname, '../../../../deploy/topologies', name));

describe(clusterProcesses.name, () => {
  it('should list every process of the test topology with how to check it', () => {
    const processes = clusterProcesses(topology('test.yaml'));
    expect(processes.map((p) => `${p.kind}:${p.name}`)).toEqual([
      'gateway:gateway-1',
      'gateway:gateway-2',
      'gateway:gateway-3',
      'api:api-1',
      'api:api-2',
      'worker:worker-1',
      'worker:worker-2',
      ...[17101, 17102, 17103, 17104, 17105, 17106].map((port) => `redis:redis-${port}`),
      'rabbitmq:rmq1',
      'rabbitmq:rmq2',
      'rabbitmq:rmq3',
      'database:pg-1',
      'database:pg-2',
      'database:pg-3',
      'haproxy:haproxy',
      'load-balancer:haproxy-edge-lb-1',
      'load-balancer:haproxy-edge-lb-2',
      'dns:named',
      'etcd:etcd',
    ]);
    const byName = new Map(processes.map((p) => [p.name, p]));
    expect(byName.get('api-1')).toMatchObject({
      address: '127.0.0.1:13001',
      probe: { kind: 'http', url: 'http://127.0.0.1:13001/health/ready' },
    });
    expect(byName.get('gateway-2')?.probe).toEqual({ kind: 'tcp', host: '127.0.0.32', port: 18443 });
    expect(byName.get('pg-2')).toMatchObject({
      probe: { kind: 'http', url: 'http://127.0.0.1:18009/health' },
      primaryUrl: 'http://127.0.0.1:18009/primary',
    });
    expect(byName.get('etcd')?.probe).toEqual({ kind: 'http', url: 'http://127.0.0.1:12379/health' });
    expect(byName.get('haproxy-edge-lb-2')).toMatchObject({
      address: '198.18.78.12:18405',
      probe: { kind: 'http', url: 'http://198.18.78.12:18405/healthz' },
    });
  });

  it('should check CockroachDB nodes on /health?ready=1 and name Redis nodes on one port by host', () => {
    const processes = clusterProcesses(topology('compose.yaml'));
    expect(processes.find((p) => p.name === 'cockroach-1')?.probe).toEqual({
      kind: 'http',
      url: 'http://cockroach-1:8080/health?ready=1',
    });
    expect(processes.filter((p) => p.kind === 'redis').map((p) => p.name)).toEqual(
      [1, 2, 3, 4, 5, 6].map((i) => `redis-6379-redis-${i}`),
    );
  });
});

describe(databasePrimary.name, () => {
  it('should name the node Patroni made primary, the configured one without Patroni, none for CockroachDB', () => {
    expect(databasePrimary(topology('test.yaml'), ['pg-3'])).toBe('pg-3');
    expect(databasePrimary(topology('test.yaml'), [])).toBeNull();
    expect(databasePrimary(topology('compose.yaml'), [])).toBeNull();
    const plain = topology('test.yaml');
    delete plain.database.failover;
    expect(databasePrimary(plain, [])).toBe('pg-1');
  });
});
