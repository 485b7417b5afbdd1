/**
 * The fixed set of Prometheus panels `GET /v1/admin/metrics` answers with. The PromQL lives here and only here:
 * callers choose a panel set's time window, never a query, so the route cannot be used to run arbitrary PromQL
 * against the monitoring server (cost, or reading series the console has no business showing).
 *
 * Each query is a function of the rate window (`[1m]` at the console's windows), so a longer window's coarser step
 * still averages over every sample instead of skipping some.
 */

export const METRICS_WINDOWS = ['15m', '1h', '6h'] as const;
export type MetricsWindow = (typeof METRICS_WINDOWS)[number];

/** Each window in seconds; every window is drawn with the same number of points (see `METRICS_POINTS`). */
export const METRICS_WINDOW_SECONDS: Record<MetricsWindow, number> = { '15m': 15 * 60, '1h': 60 * 60, '6h': 6 * 3_600 };

/** Points per series a window is cut into: 15 s apart over 15 minutes. */
export const METRICS_POINTS = 60;

export const METRICS_PANEL_NAMES = [
  'requestRate',
  'errorRatio',
  'writeVisibilityP99',
  'shardBacklog',
  'replicationLag',
  'instancesUp',
] as const;
export type MetricsPanelName = (typeof METRICS_PANEL_NAMES)[number];

export const METRICS_UNITS = ['req/s', 'ratio', 'seconds', 'messages', 'bytes', 'instances'] as const;
export type MetricsUnit = (typeof METRICS_UNITS)[number];

export interface MetricsPanelDefinition {
  name: MetricsPanelName;
  title: string;
  unit: MetricsUnit;
  description: string;
  /** The PromQL, given the rate window (such as `60s`). */
  query: (rateWindow: string) => string;
  /** The label that names each series of the answer; a panel of one series names it `series`. */
  seriesLabel?: string;
  series?: string;
}

const REQUESTS = 'keyflow_http_request_duration_seconds_count{job="keyflow-api"}';

export const METRICS_PANELS: readonly MetricsPanelDefinition[] = [
  {
    name: 'requestRate',
    title: 'Request rate per API instance',
    unit: 'req/s',
    description: 'HTTP requests each API instance answered, per second.',
    query: (w) => `sum by (keyflow_instance) (rate(${REQUESTS}[${w}]))`,
    seriesLabel: 'keyflow_instance',
  },
  {
    name: 'errorRatio',
    title: 'Server errors per API instance',
    unit: 'ratio',
    description: 'The share of answers that were 5xx (no point while an instance answered nothing).',
    // `or 0 * …`: an instance that never answered a 5xx has no 5xx series at all, yet its ratio is 0, not absent.
    query: (w) =>
      `(sum by (keyflow_instance) (rate(${REQUESTS.replace('}', ',status=~"5.."}')}[${w}]))` +
      ` or 0 * sum by (keyflow_instance) (rate(${REQUESTS}[${w}])))` +
      ` / sum by (keyflow_instance) (rate(${REQUESTS}[${w}]))`,
    seriesLabel: 'keyflow_instance',
  },
  {
    name: 'writeVisibilityP99',
    title: 'Write visibility latency (p99)',
    unit: 'seconds',
    description:
      'Publish to broker confirm (APIs) plus applying the batch (workers), 99th percentiles: as the WriteVisibilityTooSlow alert.',
    query: (w) =>
      `histogram_quantile(0.99, sum by (le) (rate(keyflow_publish_confirm_seconds_bucket[${w}])))` +
      ` + histogram_quantile(0.99, sum by (le) (rate(keyflow_apply_batch_seconds_bucket[${w}])))`,
    series: 'p99',
  },
  {
    name: 'shardBacklog',
    title: 'Shard backlog',
    unit: 'messages',
    description: 'Writes ready in the shard queues and not yet taken by a worker (all shards), and dead letters.',
    // Every worker reports every queue's depth: `max by (queue)` counts each queue once.
    query: () =>
      `label_replace(sum(max by (queue) (keyflow_queue_depth{queue=~"kv\\\\.shard\\\\..*"})), "series", "shards", "", "")` +
      ` or label_replace(max(keyflow_queue_depth{queue="kv.dead-letter"}), "series", "dead letters", "", "")`,
    seriesLabel: 'series',
  },
  {
    name: 'replicationLag',
    title: 'Database replication lag',
    unit: 'bytes',
    description:
      'WAL the PostgreSQL primary holds for each replica that it has not confirmed (its Patroni replication slot). No data on CockroachDB.',
    // postgres_exporter's replication-slot query: every version has it (pg_replication_lag, in seconds, needs the
    // exporter's extra queries, which Debian's 0.11 lacks). A slot is named after its member (pg-2 → pg_2).
    // Active slots only: a slot nobody streams from (a member gone, a copy kept on a replica) is not lag.
    query: () =>
      'max by (slot_name) (pg_replication_slots_pg_wal_lsn_diff and on (server, slot_name) pg_replication_slots_active == 1)',
    seriesLabel: 'slot_name',
  },
  {
    name: 'instancesUp',
    title: 'Instances up',
    unit: 'instances',
    description:
      'Scrape targets that answered Prometheus, by job: Redis nodes, APIs, workers, RabbitMQ nodes, exporters.',
    query: () => 'sum by (job) (up)',
    seriesLabel: 'job',
  },
];
