import { loadTopology, type Topology } from '@keyflow/topology';
import type { Credential, StackSecrets } from './secrets.util';
import { join } from 'node:path';
import { stackLayout, type StackLayout } from './stack-layout.util';

/** The real test topology (vitest runs from the repository root), laid out under a fake repository root. */
export function testTopology(): { topology: Topology; layout: StackLayout } {
  const file = join(process.cwd(), 'deploy/topologies/test.yaml');
  const topology = loadTopology(file);
  return { topology, layout: stackLayout('/repo', file, topology.stackDir) };
}

/** Secrets with readable, fixed passwords (`<what>-pw`), for specs that assert whole configs. */
export function testSecrets(): StackSecrets {
  const cred = (username: string, password: string): Credential => ({ username, password });
  return {
    redis: {
      app: cred('keyflow', 'redis-app-pw'),
      admin: cred('keyflow-admin', 'redis-admin-pw'),
      replication: cred('keyflow-replica', 'redis-replica-pw'),
    },
    postgres: {
      superuser: cred('postgres', 'pg-super-pw'),
      app: cred('keyflow', 'pg-app-pw'),
      replication: cred('replicator', 'pg-repl-pw'),
      rewind: cred('rewinder', 'pg-rewind-pw'),
      restApi: cred('patroni', 'patroni-pw'),
    },
    rabbitmq: { app: cred('keyflow', 'amqp-app-pw'), vhost: 'keyflow', admin: cred('keyflow-admin', 'amqp-admin-pw') },
    haproxyStats: cred('admin', 'stats-pw'),
  };
}
