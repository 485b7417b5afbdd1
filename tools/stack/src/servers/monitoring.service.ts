import type { StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { type Credential, requireSecrets, type StackSecrets } from '../secrets.util';
import type { StackLayout } from '../stack-layout.util';
import type { ProgramSpec } from '../supervisor/supervisor-conf.util';
import { terminateTree } from '../util/process.util';
import { httpHealth, httpStatus, waitUntil } from '../util/wait.util';

export const MONITORING_GROUP = 'monitoring';

type Monitoring = NonNullable<Topology['monitoring']>;

interface MonitoringProgram {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  host: string;
  port: number;
  /** Answers 200 once the program serves. */
  healthPath: string;
}

/**
 * The DSN list of Debian's postgres_exporter 0.11 (no `/probe`): one entry per node, as the application's role with
 * its password (scram-sha-256 everywhere) over loopback; each node's series carry its `server` label. It goes to
 * the exporter in its environment, never on its command line.
 */
export function postgresExporterDsn(topology: Topology, app: Credential): string {
  const { name } = topology.database;
  const login = `${encodeURIComponent(app.username)}:${encodeURIComponent(app.password)}`;
  return topology.database.nodes
    .map((n) => `postgresql://${login}@${n.host}:${n.port}/${name}?sslmode=disable&connect_timeout=2`)
    .join(',');
}

/** What the stack runs for `monitoring`: Prometheus, Alertmanager and the exporters the topology names. */
export function monitoringPrograms(
  topology: Topology,
  layout: StackLayout,
  secrets: StackSecrets,
): MonitoringProgram[] {
  const monitoring: Monitoring | undefined = topology.monitoring;
  const prometheus = monitoring?.prometheus;
  if (!monitoring || !prometheus) return [];
  const data = join(layout.data, 'monitoring');
  const { redis, postgres, node } = monitoring.exporters;
  const programs: MonitoringProgram[] = [
    {
      name: 'prometheus',
      command: 'prometheus',
      args: [
        `--config.file=${join(layout.conf, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(data, 'prometheus')}`,
        '--storage.tsdb.retention.time=7d',
        `--web.listen-address=${prometheus.host}:${prometheus.port}`,
        // Debian's default console paths do not exist without its package's web assets; none are used.
        '--web.console.templates=/dev/null',
        '--web.console.libraries=/dev/null',
      ],
      host: prometheus.host,
      port: prometheus.port,
      healthPath: '/-/ready',
    },
    {
      name: 'redis-exporter',
      command: 'prometheus-redis-exporter',
      // Multi-target: Prometheus asks /scrape?target=redis://… for each node.
      args: [`-web.listen-address=${redis.host ?? prometheus.host}:${redis.port}`, '-is-cluster'],
      // Every node asks for a login (ACL): the admin user, as INFO, CONFIG GET and CLUSTER INFO need it.
      env: { REDIS_USER: secrets.redis.admin.username, REDIS_PASSWORD: secrets.redis.admin.password },
      host: redis.host ?? prometheus.host,
      port: redis.port,
      healthPath: '/health',
    },
  ];
  const alertmanager = monitoring.alertmanager;
  if (alertmanager) {
    programs.push({
      name: 'alertmanager',
      command: 'prometheus-alertmanager',
      args: [
        `--config.file=${join(layout.conf, 'alertmanager.yml')}`,
        `--storage.path=${join(data, 'alertmanager')}`,
        `--web.listen-address=${alertmanager.host}:${alertmanager.port}`,
        // One Alertmanager: no gossip port (it would listen on 0.0.0.0:9094).
        '--cluster.listen-address=',
      ],
      host: alertmanager.host,
      port: alertmanager.port,
      healthPath: '/-/ready',
    });
  }
  if (topology.database.kind === 'postgres') {
    programs.push({
      name: 'postgres-exporter',
      command: 'prometheus-postgres-exporter',
      args: [
        `--web.listen-address=${postgres.host ?? prometheus.host}:${postgres.port}`,
        // 0.11's newer collectors register their series once per DSN and fail the whole scrape (500) with several
        // DSNs; the classic metrics (pg_up, pg_replication_*, pg_stat_*) carry a `server` label and stay.
        '--no-collector.database',
        '--no-collector.bgwriter',
      ],
      env: { DATA_SOURCE_NAME: postgresExporterDsn(topology, secrets.postgres.app) },
      host: postgres.host ?? prometheus.host,
      port: postgres.port,
      healthPath: '/',
    });
  }
  if (node) {
    programs.push({
      name: 'node-exporter',
      command: 'prometheus-node-exporter',
      args: [`--web.listen-address=${node.host ?? prometheus.host}:${node.port}`],
      host: node.host ?? prometheus.host,
      port: node.port,
      healthPath: '/metrics',
    });
  }
  return programs;
}

/**
 * Prometheus (keyflow's alert rules loaded), Alertmanager and the node, Redis and PostgreSQL exporters, as the
 * topology's `monitoring` asks, from the `prometheus.yml` and `alertmanager.yml` `gateway-config` rendered.
 * RabbitMQ's and HAProxy's metrics are their own (rabbitmq_prometheus, HAProxy's exporter on its stats port).
 */
export class MonitoringService implements StackComponent {
  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    const programs = topology.monitoring?.prometheus
      ? monitoringPrograms(topology, layout, requireSecrets(layout))
      : [];
    if (programs.length) mkdirSync(join(layout.data, 'monitoring'), { recursive: true });
    return programs.map((p) => {
      const spec: ProgramSpec = {
        name: p.name,
        group: MONITORING_GROUP,
        command: p.command,
        args: p.args,
        ...(p.env ? { env: p.env } : {}),
        cwd: layout.run,
        priority: 500,
        startSecs: 1,
        startRetries: 10,
        stopWaitSecs: 10,
      };
      return {
        spec,
        proc: {
          name: p.name,
          kind: 'monitoring',
          host: p.host,
          port: p.port,
          healthUrl: `http://${p.host}:${p.port}${p.healthPath}`,
        },
      };
    });
  }

  async ensure({ topology, layout, progress, supervisor }: StartContext): Promise<void> {
    const programs = topology.monitoring?.prometheus
      ? monitoringPrograms(topology, layout, requireSecrets(layout))
      : [];
    if (!programs.length) return;
    await supervisor.startGroup(MONITORING_GROUP);
    await Promise.all(
      programs.map((p) => {
        const url = `http://${p.host}:${p.port}${p.healthPath}`;
        return waitUntil(async () => (await httpStatus(url)) === 200, { timeoutMs: 30_000, what: `${url}` });
      }),
    );
    progress.line('monitoring', programs.map((p) => `${p.name} ${p.host}:${p.port}`).join(', '));
  }

  stop(proc: StackProcess): Promise<string> {
    return terminateTree(proc.pid);
  }

  health(proc: StackProcess): Promise<Health> {
    return httpHealth(proc);
  }
}
