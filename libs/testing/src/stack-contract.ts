import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from './repo-root.util';

// The `stack.json` contract on its own: `tools/stack` writes it, so it stays free of test-only process control
// (that is `stack-control.ts`).

/**
 * The contract of `<stackDir>/stack.json`, written by `tools/stack` (`npm start`, `npm test`) and read by
 * integration and e2e tests. Every URL points at loopback; every process listed belongs to the stack.
 */
export type StackProcessKind =
  | 'api'
  | 'worker'
  | 'nginx'
  | 'haproxy'
  | 'named'
  | 'redis'
  | 'rabbitmq'
  | 'epmd'
  | 'postgres'
  | 'etcd'
  /** Prometheus, Alertmanager and the exporters. */
  | 'monitoring'
  /** One peer of the edge pair: its HTTP-mode HAProxy, and its keepalived, in the peer's network namespace. */
  | 'haproxy-edge'
  | 'keepalived';

/**
 * Every process of a stack runs under the stack's own supervisord, which sets this variable in its environment;
 * the programs (and what they start) inherit it. It is how a stack finds its processes even when stack.json's
 * pids are stale or supervisord itself was killed.
 */
export const STACK_DIR_ENV = 'KEYFLOW_STACK_DIR';

export interface StackProcess {
  /** Says what it is: `api-1`, `worker-2`, `nginx`, `haproxy`, `redis-7001`, `rabbitmq-rmq1`, `epmd`, `postgres-pg-1`, `etcd`. */
  name: string;
  /**
   * The pid when stack.json was last written (by `up` or `status`). The supervisor restarts crashed processes
   * with new pids: `currentPid(name)` and `npm run status -- --json` are the source of truth.
   */
  pid: number;
  /** The supervisor's name for it: `apps:api-1`, `postgres:postgres-pg-1`, `haproxy`. */
  program?: string;
  kind: StackProcessKind;
  host?: string;
  port?: number;
  /** Every TCP port it listens on, where that is more than `port` (HAProxy, nginx). */
  ports?: number[];
  /** HTTP URL that answers 200 when the process is ready (apps and the gateway). */
  healthUrl?: string;
  /** RabbitMQ node name (`rmq1@localhost`) and its management port. */
  node?: string;
  managementPort?: number;
  /** PostgreSQL data directory. */
  dataDir?: string;
  /** Patroni's REST port (PostgreSQL nodes): `/primary`, `/replica`, `/health`, `/cluster`. */
  restApiPort?: number;
  /** The network namespace it runs in (the edge pair's peers): `ip netns exec <namespace> …`. */
  namespace?: string;
}

/** The edge HAProxy pair, when the stack runs it (`edge` in the topology, and network namespaces allowed). */
export interface StackEdge {
  /** The virtual IP keepalived moves between the peers. */
  virtualIp: string;
  /** `<dns.loadBalancerName>.<dns.zone>`: the stack's DNS server answers it with the virtual IP. */
  name?: string;
  /** The plain HTTP URL on the virtual IP (redirects to HTTPS but for health and /store), when it has one. */
  http?: string;
  peers: Array<{ name: string; namespace: string; address: string; priority: number; stats: string }>;
}

export interface StackDbUrls {
  /** The current primary, through HAProxy (the same as `write`: the primary moves on failover). */
  primary: string;
  /** Through HAProxy's read port (the same as `read`). */
  replica: string;
  /** Every PostgreSQL node, directly. */
  replicas: string[];
  /** Through HAProxy: always the current primary. */
  write: string;
  /** Through HAProxy: the replicas (the primary as a backup). */
  read: string;
}

/** A login to one of the stack's servers. */
export interface StackCredential {
  username: string;
  password: string;
}

/**
 * The logins tests and tools need beyond the URLs (which carry the apps' own), copied from `<stackDir>/secrets.json`
 * (`secretsFile`); stack.json is mode 0600 like that file.
 */
export interface StackCredentials {
  /** Redis ACL users: `app` has only the apps' commands and key patterns, `admin` everything. */
  redis: { app: StackCredential; admin: StackCredential };
  /** PostgreSQL's superuser (`postgres`): for tests that pause replay or read server settings. */
  dbSuperuser: StackCredential;
  /** Patroni's REST API write endpoints (switchover, restart). */
  patroni: StackCredential;
  haproxyStats: StackCredential;
}

export interface StackInfo {
  /**
   * `starting` while `up` runs, `up` once everything answered its health check, `failed` if `up` gave up,
   * `stopped` after `down` (the data is kept; so is the admin token below).
   */
  state: 'starting' | 'up' | 'failed' | 'stopped';
  name: string;
  topology: string;
  stackDir: string;
  startedAt: string;
  /** The first of `gateways`. */
  gateway: string;
  /**
   * Where each gateway serves every route: its HTTPS URL, or its plain-HTTP one when the topology serves plain HTTP
   * too (`gateway.tls.plainHttp: serve`, the test stack, so suites need no CA).
   */
  gateways: string[];
  /** Each gateway's HTTPS URL, when TLS is on. Trust `ca` to reach them. */
  httpsGateways?: string[];
  /** The stack's own certificate authority (PEM), which signed the gateways' certificate (`tls.mode: local-ca`). */
  ca?: string;
  apis: string[];
  workers: string[];
  management: string;
  /** RabbitMQ's administrator (the management UI and API); the apps' AMQP login is in the `amqp` URLs. */
  managementUser: string;
  managementPassword: string;
  /** Direct node URLs, one per RabbitMQ node, with the apps' login and vhost. */
  amqp: string[];
  /** Through HAProxy. */
  amqpGateway: string;
  /** The apps' vhost (in every AMQP URL; management API paths such as `/queues/<vhost>` need it). */
  amqpVhost: string;
  /** `host:port` of every Redis cluster node. */
  redis: string[];
  db: StackDbUrls;
  haproxyStats: string;
  /** `<stackDir>/secrets.json` (mode 0600): every password of the stack. */
  secretsFile: string;
  credentials: StackCredentials;
  /** The admin user's API token (`Authorization: Bearer …`); set once the admin user exists. */
  token?: string;
  /** The DNS server answering for the gateways' name, when the topology runs one. */
  dns?: { server: string; name: string };
  /**
   * `https://<virtual IP>:<port>`: the edge HAProxy pair in front of the gateways (trust `ca`), when the stack runs
   * it; `edge` says more.
   */
  loadBalancer?: string;
  edge?: StackEdge;
  /** Prometheus's and Alertmanager's URLs, when the topology has monitoring. */
  prometheus?: string;
  alertmanager?: string;
  /** The stack's supervisord: its config file is what `supervisorctl -c` needs. */
  supervisor: { config: string };
  /** Patroni's REST API of every PostgreSQL node (`GET /cluster` shows who leads). */
  patroni: string[];
  processes: StackProcess[];
}

/** `<stackDir>/run/<name>.json`: everything needed to relaunch a Node process exactly as `up` did. */
export interface StackLaunchSpec {
  name: string;
  command: string;
  args: string[];
  /** The complete environment the process gets (not merged with the caller's). */
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  healthUrl?: string;
}

/** `KEYFLOW_STACK_FILE`, or the default local stack's `<repo>/.keyflow/stack.json`. */
export function stackFilePath(): string {
  const file = process.env['KEYFLOW_STACK_FILE'];
  return file ?? join(findRepoRoot(process.cwd()) ?? process.cwd(), '.keyflow', 'stack.json');
}

export function readStack(file = stackFilePath()): StackInfo {
  if (!existsSync(file)) {
    throw new Error(`no stack at ${file}: start one with \`npm start\` (or run the tests with \`npm test\`)`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
}
