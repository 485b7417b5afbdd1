import { isIP } from 'node:net';
import { join } from 'node:path';
import { RABBITMQ_PROMETHEUS_PORT, type LbAlgorithm, type Topology } from '@keyflow/topology';
import { pgPrimaryCheck, type PgPrimaryCheck } from './pg-check.util';
import {
  HAPROXY_CFG_FILE,
  NAMED_CONF_FILE,
  NGINX_CONF_FILE,
  NGINX_TEMP_PATHS,
  PROMETHEUS_FILE,
  RUN_FILES,
  SELF_SIGNED_TLS,
  zoneFile,
} from './render.constant';

/**
 * View models: everything a template prints, computed here so the templates only loop and branch on flags.
 * Every field is always present (null rather than missing) because templates compile in strict mode.
 */

export interface RenderPaths {
  /** Absolute directory nginx and HAProxy write pids, logs, sockets and temp files to at run time. */
  runDir: string;
  /** Absolute directory the rendered files are written to. */
  outDir: string;
}

interface NamedAddress {
  name: string;
  address: string;
}

export interface ProblemPageView {
  /** The status nginx raises internally (`494` for headers too large, `497` for plain HTTP on a TLS port). */
  code: number;
  /** The status the client gets. */
  status: number;
  /** An internal exact-match location: `/_gateway/problem/<code>`. */
  location: string;
  /** Arguments of the `error_page` directive that sends `code` there, e.g. `494 =431 /_gateway/problem/494`. */
  errorPage: string;
  /** JSON text for nginx `return <status> '<body>'`; may contain nginx variables such as $request_id. */
  body: string;
  /**
   * `add_header` values for this page. An `add_header` in a location replaces every inherited one, so a page
   * that adds a header repeats the server's headers too.
   */
  headers: string[];
}

export interface NginxView {
  topologyName: string;
  daemon: 'on' | 'off';
  startHint: string;
  runDir: string;
  confFile: string;
  pidFile: string;
  errorLog: string;
  accessLog: string | null;
  tempPaths: Array<{ directive: string; path: string }>;
  clientMaxBodySize: string;
  /** `large_client_header_buffers`: the longest request line and header line, and how many fit. */
  largeClientHeaderBuffers: string;
  balanceDirective: string | null;
  /** nginx's passive health check per upstream server, e.g. `max_fails=2 fail_timeout=5s`. */
  upstreamHealth: string;
  upstreams: NamedAddress[];
  /** `add_header` values of every gateway server block. */
  serverHeaders: string[];
  servers: Array<{ name: string; listen: string }>;
  tls: { certFile: string; keyFile: string } | null;
  /** Plain-HTTP servers that only redirect to HTTPS. */
  redirects: Array<{ name: string; listen: string; target: string }>;
  rateLimit: { zone: string; rate: string; zoneSize: string; burst: number } | null;
  problems: { notFound: string; pages: ProblemPageView[] };
}

export interface HaproxyView {
  topologyName: string;
  confFile: string;
  pidFile: string;
  statsSocket: string;
  dbWriteBind: string;
  dbReadBind: string;
  amqpBind: string;
  statsBind: string;
  /** `inter … fall … rise …` for the database and AMQP servers. */
  dbCheck: string;
  amqpCheck: string;
  resolvers: { name: string; nameservers: NamedAddress[] } | null;
  /** Appended to every server line: run-time DNS resolution, or nothing. */
  serverOptions: string;
  postgres: {
    checkUser: string;
    check: PgPrimaryCheck;
    writeServers: NamedAddress[];
    readServers: Array<NamedAddress & { backup: boolean }>;
  } | null;
  cockroach: { servers: Array<NamedAddress & { httpPort: number }> } | null;
  /** PostgreSQL under Patroni: HAProxy follows Patroni's own health endpoints on each node's REST port. */
  patroni: { servers: Array<NamedAddress & { restApiPort: number }> } | null;
  rabbitmq: NamedAddress[];
}

export interface NamedConfView {
  topologyName: string;
  confFile: string;
  directory: string;
  pidFile: string;
  sessionKeyFile: string;
  /** `listen-on` or `listen-on-v6`, with the other family switched off. */
  listenOn: string;
  listenOff: string;
  zone: string;
  zoneFile: string;
}

export interface ZoneView {
  topologyName: string;
  origin: string;
  ttl: number;
  serial: number;
  nameServer: { label: string; fqdn: string; type: 'A' | 'AAAA'; address: string };
  hostmaster: string;
  /** One record per distinct gateway address: resolvers hand them out in rotation (rrset-order cyclic). */
  records: Array<{ label: string; type: 'A' | 'AAAA'; address: string }>;
}

/** `host:port`, with IPv6 literals bracketed as both nginx and HAProxy expect. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** nginx's balancing directive for the upstream block; round robin is nginx's default and needs none. */
export function nginxBalanceDirective(algorithm: LbAlgorithm): string | null {
  switch (algorithm) {
    case 'leastconn':
      return 'least_conn;';
    case 'source':
      return 'ip_hash;';
    case 'roundrobin':
      return null;
  }
}

/**
 * An RFC 9457 body for nginx's `return` directive. nginx interpolates `$name` in it, which is how the
 * request id gets in; any other `$` or a single quote would break the directive, so refuse them.
 */
function problemBody(status: number, title: string, detail: string): string {
  if (/[$'\\]/.test(title + detail)) throw new Error(`problem text must not contain $, ' or \\: ${title} ${detail}`);
  return JSON.stringify({ type: 'about:blank', title, status, detail, requestId: '$request_id' });
}

/** nginx's default, written out because the problem details quote it. */
const LARGE_HEADER_BUFFERS = { count: 4, size: '8k' } as const;

/** Where nginx's own errors are answered; never proxied, and `internal`, so a client asking for one gets 404. */
const PROBLEM_PAGE_PREFIX = '/_gateway/problem/';

/** What a client may do after a gateway error on a write; the gateway's key is gw- + the request id. */
const REPEAT_ADVICE =
  'Repeat a PUT or DELETE of /v1/kv/ only with the same Idempotency-Key: yours, or gw- followed by this requestId if you sent none.';

/**
 * One page per error nginx itself answers, before a location is chosen (request line, headers) or after
 * (body, upstream). Not 408: on a client timeout nginx closes the connection without answering.
 */
function nginxProblems(t: Topology, serverHeaders: string[], tls: boolean): NginxView['problems'] {
  const { count, size } = LARGE_HEADER_BUFFERS;
  const notFound = 'The gateway does not serve this path.';
  // [nginx's code, status answered, title, detail]
  const pages: Array<[number, number, string, string]> = [
    [
      400,
      400,
      'Bad Request',
      'The gateway could not parse the request: its request line, URL (percent-encoding, a path above the root), a header or the chunked body is malformed.',
    ],
    [404, 404, 'Not Found', notFound],
    [413, 413, 'Content Too Large', `The request body exceeds the gateway limit of ${t.gateway.clientMaxBodySize}.`],
    [414, 414, 'URI Too Long', `The request line is longer than the gateway accepts (${size}).`],
    [
      494,
      431,
      'Request Header Fields Too Large',
      `A request header line is longer than ${size}, or all headers together need more than ${count} buffers of ${size}.`,
    ],
    [500, 500, 'Internal Server Error', 'The gateway failed to handle the request.'],
    [501, 501, 'Not Implemented', 'The gateway supports no Transfer-Encoding but chunked.'],
    [
      502,
      502,
      'Bad Gateway',
      `No API instance answered, so a write may or may not have been accepted. ${REPEAT_ADVICE}`,
    ],
    [503, 503, 'Service Unavailable', 'No API instance is available to take the request.'],
    [
      504,
      504,
      'Gateway Timeout',
      `The API instance did not answer in time, so a write may or may not have been accepted. ${REPEAT_ADVICE}`,
    ],
    [505, 505, 'HTTP Version Not Supported', 'The gateway speaks HTTP/1.0 and HTTP/1.1.'],
  ];
  const rateLimit = t.gateway.rateLimit;
  if (rateLimit) {
    pages.push([
      429,
      429,
      'Too Many Requests',
      `This client sent more than ${rateLimit.requestsPerSecond} requests per second to this gateway; retry later.`,
    ]);
  }
  if (tls) pages.push([497, 400, 'Bad Request', 'This port speaks HTTPS: a plain HTTP request was sent to it.']);
  return {
    notFound: problemBody(404, 'Not Found', notFound),
    pages: pages
      .sort(([a], [b]) => a - b)
      .map(([code, status, title, detail]) => {
        const location = `${PROBLEM_PAGE_PREFIX}${code}`;
        return {
          code,
          status,
          location,
          // Without "=<status>" nginx answers 494 and 497 with 400 whatever the page returns.
          errorPage: code === status ? `${code} ${location}` : `${code} =${status} ${location}`,
          body: problemBody(status, title, detail),
          headers: status === 429 ? [...serverHeaders, 'Retry-After 1'] : [],
        };
      }),
  };
}

/** The certificate and key nginx reads, or null when TLS is off. */
export function tlsFiles(t: Topology, outDir: string): { certFile: string; keyFile: string } | null {
  const tls = t.gateway.tls;
  switch (tls.mode) {
    case 'off':
      return null;
    case 'self-signed':
      return { certFile: join(outDir, SELF_SIGNED_TLS.cert), keyFile: join(outDir, SELF_SIGNED_TLS.key) };
    case 'files':
      // The schema requires both in files mode.
      return { certFile: tls.certFile ?? '', keyFile: tls.keyFile ?? '' };
  }
}

/**
 * Where each gateway server listens. listenAll: one server per distinct port on every address (one nginx per
 * host or container); otherwise one per instance address.
 */
function nginxListeners(t: Topology, ssl: boolean): Array<{ name: string; listen: string; port: number }> {
  const suffix = ssl ? ' ssl' : '';
  const instances = t.gateway.instances;
  if (!t.gateway.listenAll) {
    return instances.map((g) => ({ name: g.name, listen: `${hostPort(g.host, g.port)}${suffix}`, port: g.port }));
  }
  const ports = [...new Set(instances.map((g) => g.port))];
  return ports.map((port) => ({
    name: instances
      .filter((g) => g.port === port)
      .map((g) => g.name)
      .join(','),
    listen: `${port}${suffix}`,
    port,
  }));
}

function nginxRedirects(t: Topology): NginxView['redirects'] {
  const port = t.gateway.tls.redirectHttpPort;
  if (port === undefined || t.gateway.tls.mode === 'off') return [];
  const target = (httpsPort: number): string => `https://$host${httpsPort === 443 ? '' : `:${httpsPort}`}$request_uri`;
  const instances = t.gateway.instances;
  if (t.gateway.listenAll) {
    const first = instances[0];
    return first
      ? [{ name: instances.map((g) => g.name).join(','), listen: String(port), target: target(first.port) }]
      : [];
  }
  const hosts = [...new Set(instances.map((g) => g.host))];
  return hosts.map((host) => {
    const onHost = instances.filter((g) => g.host === host);
    return {
      name: onHost.map((g) => g.name).join(','),
      listen: hostPort(host, port),
      target: target(onHost[0]?.port ?? 443),
    };
  });
}

export function buildNginxView(t: Topology, { runDir, outDir }: RenderPaths): NginxView {
  const tls = tlsFiles(t, outDir);
  // HSTS only with an operator's certificate: a browser that pinned HSTS for a self-signed name is stuck.
  const serverHeaders = [
    'X-Request-Id $request_id',
    ...(t.gateway.tls.mode === 'files' ? ['Strict-Transport-Security "max-age=31536000"'] : []),
  ];
  const health = t.healthChecks.gateway;
  const rateLimit = t.gateway.rateLimit;
  return {
    topologyName: t.name,
    daemon: t.gateway.daemon ? 'on' : 'off',
    startHint: t.gateway.daemon ? 'Started detached by the stack:' : 'Runs in the foreground (a container):',
    runDir,
    confFile: join(outDir, NGINX_CONF_FILE),
    pidFile: join(runDir, RUN_FILES.nginxPid),
    errorLog: join(runDir, RUN_FILES.nginxErrorLog),
    accessLog: t.gateway.accessLog ? join(runDir, RUN_FILES.nginxAccessLog) : null,
    tempPaths: Object.entries(NGINX_TEMP_PATHS).map(([directive, dir]) => ({ directive, path: join(runDir, dir) })),
    clientMaxBodySize: t.gateway.clientMaxBodySize,
    largeClientHeaderBuffers: `${LARGE_HEADER_BUFFERS.count} ${LARGE_HEADER_BUFFERS.size}`,
    balanceDirective: nginxBalanceDirective(t.gateway.algorithm),
    upstreamHealth: `max_fails=${health.maxFails} fail_timeout=${health.failTimeout}`,
    upstreams: t.api.instances.map((a) => ({ name: a.name, address: hostPort(a.host, a.port) })),
    serverHeaders,
    servers: nginxListeners(t, tls !== null).map(({ name, listen }) => ({ name, listen })),
    tls,
    redirects: nginxRedirects(t),
    rateLimit: rateLimit
      ? {
          zone: 'keyflow_per_client',
          rate: `${rateLimit.requestsPerSecond}r/s`,
          zoneSize: rateLimit.zoneSize,
          burst: rateLimit.burst,
        }
      : null,
    problems: nginxProblems(t, serverHeaders, tls !== null),
  };
}

function haproxyCheck(c: { interval: string; fall: number; rise: number }): string {
  return `inter ${c.interval} fall ${c.fall} rise ${c.rise}`;
}

export function buildHaproxyView(t: Topology, { runDir, outDir }: RenderPaths): HaproxyView {
  const db = t.database;
  const dbChecks = t.healthChecks.database;
  const bind = (port: number): string => (t.haproxy.listenAll ? `*:${port}` : hostPort(t.haproxy.host, port));
  const resolvers = t.haproxy.resolvers;
  const named = (n: { name: string; host: string; port: number }): NamedAddress => ({
    name: n.name,
    address: hostPort(n.host, n.port),
  });
  return {
    topologyName: t.name,
    confFile: join(outDir, HAPROXY_CFG_FILE),
    pidFile: join(runDir, RUN_FILES.haproxyPid),
    statsSocket: join(runDir, RUN_FILES.haproxySocket),
    dbWriteBind: bind(t.haproxy.dbWritePort),
    dbReadBind: bind(t.haproxy.dbReadPort),
    amqpBind: bind(t.haproxy.amqpPort),
    // With a redundant pair the stats frontend listens on every address, so each peer can be scraped at its own.
    statsBind: t.haproxy.redundancy ? `*:${t.haproxy.statsPort}` : bind(t.haproxy.statsPort),
    resolvers: resolvers
      ? {
          name: 'keyflow_dns',
          nameservers: resolvers.map((r, i) => ({ name: `dns${i + 1}`, address: hostPort(r.host, r.port) })),
        }
      : null,
    // init-addr last,libc,none: start even when a server's name does not resolve yet; it stays down until it does.
    serverOptions: resolvers ? ' resolvers keyflow_dns init-addr last,libc,none' : '',
    dbCheck: haproxyCheck({ ...dbChecks, interval: dbChecks.interval ?? (db.kind === 'postgres' ? '1s' : '2s') }),
    amqpCheck: haproxyCheck({ ...t.healthChecks.amqp, interval: t.healthChecks.amqp.interval ?? '2s' }),
    postgres:
      db.kind === 'postgres' && !db.failover
        ? {
            checkUser: db.user,
            check: pgPrimaryCheck(db.user, db.name),
            // `balance first` sends every write to the first server that is up; listing the configured primary
            // first keeps that choice deterministic even if two nodes ever pass the check at once.
            writeServers: [...db.nodes].sort((a, b) => rank(a.role) - rank(b.role)).map(named),
            readServers: [...db.nodes]
              .sort((a, b) => rank(b.role) - rank(a.role))
              .map((n) => ({ ...named(n), backup: n.role === 'primary' })),
          }
        : null,
    cockroach:
      db.kind === 'cockroach' ? { servers: db.nodes.map((n) => ({ ...named(n), httpPort: n.httpPort })) } : null,
    patroni:
      db.kind === 'postgres' && db.failover
        ? {
            servers: [...db.nodes]
              .sort((a, b) => rank(a.role) - rank(b.role))
              .map((n) => ({ ...named(n), restApiPort: n.restApiPort ?? 8008 })),
          }
        : null,
    rabbitmq: t.rabbitmq.nodes.map(named),
  };
}

function rank(role: 'primary' | 'replica' | 'node'): number {
  return role === 'primary' ? 0 : 1;
}

function addressType(address: string): 'A' | 'AAAA' {
  return isIP(address) === 6 ? 'AAAA' : 'A';
}

/** The name server record's label inside the zone; the loader refuses a dns.name that collides with it. */
const NAME_SERVER_LABEL = 'ns1';

function requireDns(t: Topology): NonNullable<Topology['dns']> {
  if (!t.dns) throw new Error(`topology "${t.name}" has no dns section`);
  return t.dns;
}

export function buildNamedConfView(t: Topology, { runDir, outDir }: RenderPaths): NamedConfView {
  const dns = requireDns(t);
  const v6 = isIP(dns.server.host) === 6;
  const listen = `port ${dns.server.port} { ${dns.server.host}; }`;
  return {
    topologyName: t.name,
    confFile: join(outDir, NAMED_CONF_FILE),
    directory: runDir,
    pidFile: join(runDir, RUN_FILES.namedPid),
    sessionKeyFile: join(runDir, RUN_FILES.namedSessionKey),
    listenOn: v6 ? `listen-on-v6 ${listen}` : `listen-on ${listen}`,
    listenOff: v6 ? 'listen-on { none; }' : 'listen-on-v6 { none; }',
    zone: dns.zone,
    zoneFile: join(outDir, zoneFile(dns.zone)),
  };
}

export function buildZoneView(t: Topology): ZoneView {
  const dns = requireDns(t);
  const addresses = [...new Set(t.gateway.instances.map((g) => g.host))];
  return {
    topologyName: t.name,
    origin: `${dns.zone}.`,
    ttl: dns.ttl,
    serial: dns.serial,
    nameServer: {
      label: NAME_SERVER_LABEL,
      fqdn: `${NAME_SERVER_LABEL}.${dns.zone}.`,
      type: addressType(dns.server.host),
      address: dns.server.host,
    },
    hostmaster: `hostmaster.${dns.zone}.`,
    records: addresses.map((address) => ({ label: dns.name, type: addressType(address), address })),
  };
}

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
      : job(
          'postgres',
          db.nodes.map((n) => scrapeTarget(hostPort(n.host, n.port), n.name)),
          {
            metricsPath: '/probe',
            params: { auth_module: postgres.authModule },
            exporter: hostPort(postgres.host ?? prometheus.host, postgres.port),
          },
        );
  return {
    topologyName: t.name,
    confFile: join(outDir, PROMETHEUS_FILE),
    listenAddress: hostPort(prometheus.host, prometheus.port),
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
    ],
  };
}

export interface KeepalivedView {
  topologyName: string;
  peer: string;
  state: 'MASTER' | 'BACKUP';
  priority: number;
  interface: string;
  virtualRouterId: number;
  advertInterval: number;
  virtualAddress: string;
  unicastSource: string;
  unicastPeers: string[];
  check: { script: string; interval: number; fall: number; rise: number };
}

/** One keepalived view per HAProxy peer: the highest priority starts as MASTER, the others as BACKUP. */
export function buildKeepalivedViews(t: Topology): KeepalivedView[] {
  const r = t.haproxy.redundancy;
  if (!r) return [];
  const top = Math.max(...r.peers.map((p) => p.priority));
  return r.peers.map((peer) => ({
    topologyName: t.name,
    peer: peer.name,
    state: peer.priority === top ? 'MASTER' : 'BACKUP',
    priority: peer.priority,
    interface: r.interface,
    virtualRouterId: r.virtualRouterId,
    advertInterval: r.advertInterval,
    virtualAddress: `${r.virtualIp}/${r.prefixLength}`,
    unicastSource: peer.address,
    unicastPeers: r.peers.filter((p) => p !== peer).map((p) => p.address),
    check: { script: '/bin/pidof haproxy', ...r.check },
  }));
}
