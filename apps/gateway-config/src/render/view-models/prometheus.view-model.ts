import { join } from 'node:path';
import { RABBITMQ_PROMETHEUS_PORT, type Topology } from '@keyflow/topology';
import { ALERT_RULES_FILE, PROMETHEUS_FILE } from '../render.constant';
import { hostPort, type RenderPaths } from './view-model.util';

/**
 * A single-quoted YAML scalar: inside one only `'` is special (written twice), so nothing a topology says can
 * break out. Names and addresses never hold line breaks (the schema refuses them).
 */
function yamlString(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`a YAML scalar here must be one line: ${JSON.stringify(value)}`);
  return `'${value.replace(/'/g, "''")}'`;
}

interface ScrapeTarget {
  address: string;
  labels: Array<{ key: string; value: string }>;
}

/** One `static_configs` entry: quoted targets sharing the same labels. */
interface StaticConfig {
  targets: string[];
  labels: Array<{ key: string; value: string }>;
}

export interface PrometheusView {
  topologyName: string;
  /** The alert rules file beside prometheus.yml and where alerts go, when the topology has an Alertmanager. */
  alerting: { ruleFile: string; alertmanager: string } | null;
  confFile: string;
  listenAddress: string;
  scrapeInterval: string;
  jobs: Array<{
    name: string;
    metricsPath: string;
    params: Array<{ key: string; value: string }>;
    staticConfigs: StaticConfig[];
    /** Multi-target exporters: Prometheus asks this address, passing each target as `?target=`. */
    exporter: string | null;
  }>;
}

function scrapeTarget(address: string, instance?: string): ScrapeTarget {
  return {
    address: yamlString(address),
    labels: instance === undefined ? [] : [{ key: 'keyflow_instance', value: yamlString(instance) }],
  };
}

/** Targets without labels share one entry; a labelled target (one instance name) gets its own. */
function staticConfigs(targets: ScrapeTarget[]): StaticConfig[] {
  const plain = targets.filter((x) => x.labels.length === 0);
  return [
    ...(plain.length ? [{ targets: plain.map((x) => x.address), labels: [] }] : []),
    ...targets.filter((x) => x.labels.length > 0).map((x) => ({ targets: [x.address], labels: x.labels })),
  ];
}

export function buildPrometheusView(t: Topology, { outDir }: RenderPaths): PrometheusView {
  const monitoring = t.monitoring;
  const prometheus = monitoring?.prometheus;
  if (!monitoring || !prometheus) throw new Error(`topology "${t.name}" has no monitoring.prometheus section`);
  const { redis, postgres } = monitoring.exporters;
  const job = (
    name: string,
    targets: ScrapeTarget[],
    options: { metricsPath?: string; params?: Record<string, string>; exporter?: string } = {},
  ): PrometheusView['jobs'][number] => ({
    name: yamlString(name),
    metricsPath: yamlString(options.metricsPath ?? '/metrics'),
    params: Object.entries(options.params ?? {}).map(([key, value]) => ({ key, value: yamlString(value) })),
    staticConfigs: staticConfigs(targets),
    exporter: options.exporter === undefined ? null : yamlString(options.exporter),
  });
  const haproxyTargets = t.haproxy.redundancy
    ? t.haproxy.redundancy.peers.map((p) => scrapeTarget(hostPort(p.address, t.haproxy.statsPort), p.name))
    : [scrapeTarget(hostPort(t.haproxy.host, t.haproxy.statsPort))];
  const db = t.database;
  const dbJob =
    db.kind === 'cockroach'
      ? // CockroachDB serves Prometheus metrics itself on its HTTP port.
        job(
          'cockroach',
          db.nodes.map((n) => scrapeTarget(hostPort(n.host, n.httpPort), n.name)),
          { metricsPath: '/_status/vars' },
        )
      : postgres.multiTarget
        ? job(
            'postgres',
            db.nodes.map((n) => scrapeTarget(hostPort(n.host, n.port), n.name)),
            {
              metricsPath: '/probe',
              params: { auth_module: postgres.authModule },
              exporter: hostPort(postgres.host ?? prometheus.host, postgres.port),
            },
          )
        : // One exporter holding every node's DSN: its series tell the nodes apart by their `server` label.
          job('postgres', [scrapeTarget(hostPort(postgres.host ?? prometheus.host, postgres.port))]);
  // Patroni serves its view of each node (leader or replica, WAL written and replayed) at /metrics on its REST port,
  // without a login: the database alerts read these, as Debian's postgres_exporter 0.11 has no replication metrics.
  const patroniJob =
    db.kind === 'postgres' && db.failover?.manager === 'patroni'
      ? [
          job(
            'patroni',
            db.nodes.map((n) => {
              if (n.restApiPort === undefined) throw new Error(`database node "${n.name}" has no restApiPort`);
              return scrapeTarget(hostPort(n.host, n.restApiPort), n.name);
            }),
          ),
        ]
      : [];
  const node = monitoring.exporters.node;
  const edge = t.edge;
  const alertmanager = monitoring.alertmanager;
  return {
    topologyName: t.name,
    confFile: join(outDir, PROMETHEUS_FILE),
    listenAddress: hostPort(prometheus.host, prometheus.port),
    alerting: alertmanager
      ? {
          ruleFile: yamlString(join(outDir, ALERT_RULES_FILE)),
          alertmanager: yamlString(hostPort(alertmanager.host, alertmanager.port)),
        }
      : null,
    scrapeInterval: monitoring.scrapeInterval,
    jobs: [
      job('prometheus', [scrapeTarget(hostPort(prometheus.host, prometheus.port))]),
      job(
        'keyflow-api',
        t.api.instances.map((a) => scrapeTarget(hostPort(a.host, a.port), a.name)),
      ),
      job(
        'keyflow-worker',
        t.worker.instances.map((w) => scrapeTarget(hostPort(w.host, w.port), w.name)),
      ),
      job('haproxy', haproxyTargets),
      ...(edge
        ? [
            job(
              'haproxy-edge',
              edge.redundancy.peers.map((p) => scrapeTarget(hostPort(p.address, edge.statsPort), p.name)),
            ),
          ]
        : []),
      job(
        'rabbitmq',
        t.rabbitmq.nodes.map((n) =>
          scrapeTarget(hostPort(n.host, n.prometheusPort ?? RABBITMQ_PROMETHEUS_PORT), n.name),
        ),
      ),
      job(
        'redis',
        t.redis.nodes.map((n) => scrapeTarget(`redis://${hostPort(n.host, n.port)}`)),
        { metricsPath: '/scrape', exporter: hostPort(redis.host ?? prometheus.host, redis.port) },
      ),
      dbJob,
      ...patroniJob,
      ...(node ? [job('node', [scrapeTarget(hostPort(node.host ?? prometheus.host, node.port))])] : []),
      ...(alertmanager ? [job('alertmanager', [scrapeTarget(hostPort(alertmanager.host, alertmanager.port))])] : []),
    ],
  };
}
