import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The one typed description of a keyflow deployment. Every gateway, load-balancer and process
 * config is rendered from it (apps/gateway-config) and the local stack starts from it (tools/stack).
 */

const host = z.string().min(1, 'must be a host name or an IP address');
const port = z.number({ invalid_type_error: 'must be a port number' }).int().min(1).max(65535);
const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes, starting with a letter');

export const endpointSchema = z.object({ name, host, port }).strict();

/** A time span both nginx and HAProxy understand: `500ms`, `2s`, `1m`. */
/** A database or role name, unquoted in SQL. */
const sqlName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*$/)
  .default('keyflow');
/** The nodes of a cluster: at least one, each named, with its address and the ports `extra` adds. */
const nodeList = <T extends z.ZodRawShape>(extra: T) =>
  z.array(z.object({ name, host, port }).extend(extra).strict()).min(1);
const duration = z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a duration such as 500ms, 2s or 1m');
const count = (min: number) => z.number({ invalid_type_error: 'must be a whole number' }).int().min(min);
const ipAddress = z.string().refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address');
const ipv4Address = z.string().refine((v) => isIP(v) === 4, 'must be an IPv4 address');
/** Printed unquoted into configs, so the same characters renderAll refuses in its own paths are refused here. */
const absolutePath = z
  .string()
  .regex(/^\/[^\s'"`;{}$#\\]*$/, 'must be an absolute path without whitespace, quotes or any of ; { } $ # \\');
const dnsLabel = /[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?/;

export const tlsModeSchema = z.enum(['off', 'self-signed', 'local-ca', 'files']);

/**
 * TLS termination at the gateway. `self-signed`: `render` creates `gateway.crt`/`gateway.key` in the out dir
 * with openssl when they are missing; `local-ca`: `render` creates a certificate authority (`ca.crt`, `ca.key`)
 * once and a gateway certificate it signs, in the out dir (the local stack: clients trust `ca.crt`); `files`: an
 * operator's certificate and key at fixed paths.
 */
export const tlsSchema = z
  .object({
    mode: tlsModeSchema.default('off'),
    certFile: absolutePath.optional(),
    keyFile: absolutePath.optional(),
    /** When set, each gateway also answers plain HTTP on this port with a redirect to HTTPS. */
    redirectHttpPort: port.optional(),
    /**
     * What the plain HTTP port does. `redirect`: 308 to HTTPS, except the health checks (`/health/…`) and the
     * seed's `/store` routes, which are served as they are. `serve`: every route over plain HTTP as well (a test
     * stack, whose suites speak plain HTTP and raw sockets to the gateways; benchmarks without TLS's cost).
     */
    plainHttp: z.enum(['redirect', 'serve']).default('redirect'),
  })
  .strict()
  .superRefine((tls, ctx) => {
    for (const field of ['certFile', 'keyFile'] as const) {
      if (tls.mode === 'files' && tls[field] === undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'is required when mode is "files"' });
      }
      if (tls.mode !== 'files' && tls[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `is only used when mode is "files" (mode is "${tls.mode}")`,
        });
      }
    }
    if (tls.mode === 'off' && tls.plainHttp === 'serve') {
      ctx.addIssue({ code: 'custom', path: ['plainHttp'], message: 'needs TLS: mode is "off"' });
    }
    if (tls.mode === 'off' && tls.redirectHttpPort !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['redirectHttpPort'], message: 'needs TLS: mode is "off"' });
    }
  });

/** Per-client request rate at each gateway (nginx `limit_req`, keyed on the client address); over it: 429. */
export const rateLimitSchema = z
  .object({
    requestsPerSecond: count(1),
    /** Requests above the rate a client may send at once before it gets 429; they are not delayed. */
    burst: count(0).default(20),
    /** Shared memory for the per-client counters; 1m holds about 16 000 addresses. */
    zoneSize: z
      .string()
      .regex(/^\d+[km]$/, 'must be a size such as 10m or 512k')
      .default('10m'),
  })
  .strict();

const haproxyCheckSchema = (interval: string | undefined, fall: number) =>
  z
    .object({
      /** Time between checks; default depends on the backend (see below). */
      interval: interval === undefined ? duration.optional() : duration.default(interval),
      /** Consecutive failed checks before a server is marked down. */
      fall: count(1).default(fall),
      /** Consecutive passed checks before a server is marked up again. */
      rise: count(1).default(1),
    })
    .strict();

/** Health checks: nginx's passive checks of the APIs and HAProxy's active checks of the DB and RabbitMQ. */
export const healthChecksSchema = z
  .object({
    gateway: z
      .object({
        /** Failed attempts within failTimeout that take an API instance out of the upstream for failTimeout. */
        maxFails: count(1).default(2),
        failTimeout: duration.default('5s'),
      })
      .strict()
      .default({}),
    /**
     * Default interval: 1s for postgres (fast primary failover), 2s for cockroach. Three failures, not two,
     * mark a DB node down: marking the primary down cuts every session, and on a busy host one slow check
     * must not do that.
     */
    database: haproxyCheckSchema(undefined, 3).default({}),
    amqp: haproxyCheckSchema('2s', 2).default({}),
  })
  .strict();

/** The BIND9 zone that spreads clients over the gateways: one A/AAAA record per gateway address. */
export const dnsSchema = z
  .object({
    zone: z
      .string()
      .regex(
        new RegExp(`^(?=.{1,253}$)${dnsLabel.source}(?:\\.${dnsLabel.source})*$`),
        'must be a lower-case DNS domain such as keyflow.test',
      ),
    /** Clients resolve `<name>.<zone>`. */
    name: z.string().regex(new RegExp(`^${dnsLabel.source}$`), 'must be one lower-case DNS label such as api'),
    /**
     * `<loadBalancerName>.<zone>` resolves to the virtual IP of the edge pair (`edge`), else of the HAProxy pair
     * (`haproxy.redundancy`), next to the round-robin name; it is in the gateway certificate too. Without either
     * (a stack that runs without its edge pair) the name is not published.
     */
    loadBalancerName: z
      .string()
      .regex(new RegExp(`^${dnsLabel.source}$`), 'must be one lower-case DNS label such as www')
      .optional(),
    /** Where named listens; also the address of the zone's name server record (ns1.<zone>). */
    server: z.object({ host: ipAddress, port }).strict(),
    /** Short, so clients notice a gateway leaving the rotation quickly. */
    ttl: count(1).max(86_400).default(30),
    /** SOA serial; raise it on every change once secondaries transfer the zone. */
    serial: count(1).max(4_294_967_295).default(1),
  })
  .strict();

/** Prometheus and the exporters it scrapes. Redis and PostgreSQL exporters are scraped in multi-target mode. */
export const monitoringSchema = z
  .object({
    scrapeInterval: duration.default('15s'),
    /** When set, prometheus.yml is rendered; Prometheus listens here (`--web.listen-address`). */
    prometheus: z
      .object({ host, port: port.default(9090) })
      .strict()
      .optional(),
    exporters: z
      .object({
        /** oliver006/redis_exporter, `/scrape?target=redis://…`; host defaults to the Prometheus host. */
        redis: z
          .object({ host: host.optional(), port: port.default(9121) })
          .strict()
          .default({}),
        /**
         * prometheus-community/postgres_exporter (0.11+), `/probe?target=…&auth_module=…`; host defaults to the
         * Prometheus host. Unused for cockroach, whose nodes serve metrics themselves on `/_status/vars`.
         */
        postgres: z
          .object({
            host: host.optional(),
            port: port.default(9187),
            authModule: name.default('keyflow'),
            /**
             * true: `/probe?target=` per node (postgres_exporter 0.12+). false: one exporter given every node's DSN
             * (0.11, Debian 12's), scraped on `/metrics`; each node's series carry its `server` label.
             */
            multiTarget: z.boolean().default(true),
          })
          .strict()
          .default({}),
        /** prometheus-node-exporter of the host; absent: not scraped. */
        node: z
          .object({ host: host.optional(), port: port.default(9100) })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    /** When set, Prometheus loads keyflow's alert rules (`keyflow-alerts.yml`) and sends alerts here. */
    alertmanager: z
      .object({ host, port: port.default(9093) })
      .strict()
      .optional(),
  })
  .strict();

/** An active-passive HAProxy pair sharing a virtual IP through keepalived (VRRP). */
export const redundancySchema = z
  .object({
    /** The address clients use; HAProxy binds it on both peers (needs net.ipv4.ip_nonlocal_bind=1). */
    virtualIp: ipv4Address,
    prefixLength: count(1).max(32).default(32),
    /** Network interface the virtual IP is added to. */
    interface: z.string().regex(/^[a-zA-Z0-9._-]{1,15}$/, 'must be a network interface name such as eth0'),
    virtualRouterId: count(1).max(255).default(51),
    /** Seconds between VRRP advertisements. */
    advertInterval: count(1).max(255).default(1),
    /** keepalived's vrrp_script that checks HAProxy runs; seconds and counts. */
    check: z
      .object({ interval: count(1).default(2), fall: count(1).default(2), rise: count(1).default(2) })
      .strict()
      .default({}),
    /** The highest priority peer holds the virtual IP while its HAProxy runs. */
    peers: z
      .array(z.object({ name, address: ipv4Address, priority: count(1).max(254) }).strict())
      .min(2, 'an active-passive pair needs at least 2 peers'),
  })
  .strict();

/** How the edge HAProxy pair spreads requests over the gateways. `cookie`: sticky, a cookie names the gateway. */
export const edgeAlgorithmSchema = z.enum(['roundrobin', 'leastconn', 'source', 'cookie']);

/**
 * The edge: an HTTP-mode HAProxy pair in front of the gateways, active-passive on a virtual IP (keepalived VRRP,
 * unicast). It terminates TLS with the gateways' certificate, checks each gateway's `/health/ready` and re-encrypts
 * to it. Clients reach it at `https://<virtualIp>:<port>` or `<dns.loadBalancerName>.<dns.zone>`.
 */
export const edgeSchema = z
  .object({
    algorithm: edgeAlgorithmSchema.default('roundrobin'),
    /** HTTPS on the virtual IP. */
    port: port.default(443),
    /** Plain HTTP on the virtual IP: redirects to HTTPS, except health checks and the seed's /store routes. */
    httpPort: port.optional(),
    /** HAProxy's stats page and Prometheus /metrics, on each peer's own address. */
    statsPort: port.default(8405),
    /** Active checks of each gateway's /health/ready: a gateway is out after `fall` failed checks. */
    healthCheck: z
      .object({ interval: duration.default('1s'), fall: count(1).default(2), rise: count(1).default(2) })
      .strict()
      .default({}),
    redundancy: redundancySchema,
    /**
     * The local stack only: the peers run in network namespaces it creates (`<prefix>-<peer>`), linked by veth
     * pairs to a bridge it owns. The host reaches the virtual IP through `hostAddress` on that bridge; each gateway
     * also listens on its `gatewayAddresses` entry there (same order as gateway.instances), which is where the peers
     * reach it. Absent: the peers are real hosts and reach the gateways at their own addresses.
     */
    network: z
      .object({
        namespacePrefix: z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,9}$/, 'must be up to 10 lower-case letters, digits, dashes'),
        bridge: z.string().regex(/^[a-zA-Z0-9._-]{1,15}$/, 'must be a network interface name (at most 15 characters)'),
        hostAddress: ipv4Address,
        gatewayAddresses: z.array(ipv4Address).min(1),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * PostgreSQL run by Patroni, with etcd as its consensus store: a replica is promoted when the primary dies, and
 * the old primary rejoins as a replica (pg_rewind). Patroni requires loop_wait + 2 × retry_timeout ≤ ttl.
 */
export const failoverSchema = z
  .object({
    manager: z.literal('patroni'),
    /** Patroni's cluster name (its keys in etcd live under /keyflow/<scope>/). */
    scope: name.default('keyflow'),
    etcd: z.object({ host, clientPort: port, peerPort: port }).strict(),
    /** Seconds the leader key lives without renewal: the longest a dead primary keeps the lock. */
    ttl: count(5).default(10),
    loopWait: count(1).default(2),
    retryTimeout: count(1).default(4),
    /** Commits wait for one synchronous replica, so a promoted replica has every committed write. */
    synchronous: z.boolean().default(true),
  })
  .strict()
  .refine((f) => f.loopWait + 2 * f.retryTimeout <= f.ttl, {
    message: 'needs loopWait + 2 × retryTimeout ≤ ttl (Patroni refuses otherwise)',
  });

export const lbAlgorithmSchema = z.enum(['roundrobin', 'leastconn', 'source']);

export const topologySchema = z
  .object({
    name,
    /** Where a local stack keeps its data, logs and pids; relative paths are relative to the repository root. */
    stackDir: z.string().min(1).default('.keyflow'),
    gateway: z
      .object({
        algorithm: lbAlgorithmSchema.default('leastconn'),
        /** Largest request body nginx accepts; the API enforces the 1 MiB value limit itself. */
        clientMaxBodySize: z
          .string()
          .regex(/^\d+[km]?$/i)
          .default('2m'),
        /** Buffered access log under the run dir; turn off for load tests where every syscall counts. */
        accessLog: z.boolean().default(true),
        /**
         * false: nginx listens on each instance's address (several gateways on one host, the local stack).
         * true: on every address at each instance's port (containers, one nginx per gateway host).
         */
        listenAll: z.boolean().default(false),
        /** nginx `daemon`: the local stack detaches it; a container runs it in the foreground. */
        daemon: z.boolean().default(true),
        tls: tlsSchema.default({}),
        /** Absent: no rate limit. */
        rateLimit: rateLimitSchema.optional(),
        /**
         * Logins per client address and gateway (`POST /v1/auth/login`), on top of the API's own per-user counts: a
         * login costs an argon2 hash, so a flood is refused before it reaches an API.
         */
        loginRateLimit: z
          .object({ requestsPerMinute: count(1).default(30), burst: count(0).default(10) })
          .strict()
          .default({}),
        /**
         * Addresses (or CIDR ranges) of a load balancer in front that terminates TLS: from them, and only from them,
         * the gateway believes X-Forwarded-Proto (so cookies are Secure and the CSRF check expects https) and takes
         * the client's address from X-Forwarded-For (so per-address limits count clients, not the balancer).
         */
        trustedForwarders: z
          .array(z.string().regex(/^[0-9a-fA-F.:]+(\/\d{1,3})?$/, 'must be an IP address or a CIDR range'))
          .default([]),
        /**
         * The web console's built files (apps/console: index.html and assets/), which every gateway serves at `/`.
         * A relative path is relative to the directory the configs are rendered from (the repository root for
         * `npm start`); containers give the absolute path they mount or copy the files to.
         */
        consoleRoot: z
          .string()
          .regex(/^[^\s'"`;{}$#\\]+$/, 'must be a path without whitespace, quotes or any of ; { } $ # \\')
          .default('dist/apps/console'),
        /**
         * DNS servers nginx asks at run time for the API's address (Kubernetes: the cluster DNS), so the gateway starts
         * before the API's name resolves and follows it when it moves. Needs exactly one `api.instances` entry: a name
         * (a Service) that resolves to every API. Absent: the API names are resolved once, at start.
         */
        resolver: z
          .object({ servers: z.array(host).min(1), valid: duration.default('10s') })
          .strict()
          .optional(),
        instances: z.array(endpointSchema).min(1),
      })
      .strict(),
    api: z
      .object({
        instances: z.array(endpointSchema).min(1),
      })
      .strict(),
    worker: z
      .object({
        /** Fixed number of shard queues keys hash to. Changing it on a live system reorders keys. */
        shards: z.number().int().min(1).max(1024).default(16),
        /** Each worker serves health and metrics on its own port. */
        instances: z.array(endpointSchema).min(1),
      })
      .strict(),
    redis: z
      .object({
        nodeTimeoutMs: z.number().int().min(100).default(2000),
        replicasPerMaster: z.number().int().min(0).default(1),
        nodes: z.array(z.object({ host, port }).strict()).min(3),
      })
      .strict(),
    rabbitmq: z
      .object({
        /** A private epmd port so the stack never shares the system RabbitMQ's epmd. */
        epmdPort: port.default(4370),
        nodes: nodeList({
          managementPort: port,
          distPort: port,
          /** The rabbitmq_prometheus plugin's port (default 15692), scraped when monitoring.prometheus is set. */
          prometheusPort: port.optional(),
        }),
      })
      .strict(),
    database: z
      .object({
        kind: z.enum(['postgres', 'cockroach']),
        name: sqlName,
        user: sqlName,
        nodes: nodeList({
          role: z.enum(['primary', 'replica', 'node']),
          /** CockroachDB's HTTP port, where HAProxy checks `/health?ready=1`; unused for postgres. */
          httpPort: port.default(8080),
          /**
           * Patroni's REST port (`database.failover`): HAProxy checks `/primary` and `/replica` there. With
           * Patroni, `role` only says which node bootstraps the cluster; the manager decides who leads later.
           */
          restApiPort: port.optional(),
        }),
        failover: failoverSchema.optional(),
      })
      .strict()
      .superRefine((db, ctx) => {
        if (!db.failover) return;
        if (db.kind !== 'postgres') {
          ctx.addIssue({
            code: 'custom',
            path: ['failover'],
            message: `is for PostgreSQL; ${db.kind} replicates and fails over by itself`,
          });
        }
        db.nodes.forEach((n, i) => {
          if (n.restApiPort === undefined) {
            ctx.addIssue({ code: 'custom', path: ['nodes', i, 'restApiPort'], message: 'is required with failover' });
          }
        });
        if (db.nodes.filter((n) => n.role === 'primary').length !== 1) {
          ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'needs exactly one node with role primary' });
        }
      }),
    haproxy: z
      .object({
        host,
        dbWritePort: port,
        dbReadPort: port,
        amqpPort: port,
        statsPort: port,
        /** true: bind every address at these ports (a container) instead of `host`. */
        listenAll: z.boolean().default(false),
        /**
         * DNS servers HAProxy asks at run time for server addresses (e.g. Docker's 127.0.0.11:53), so a server that
         * comes back with a new address is found again; servers not resolvable at start wait instead of failing it.
         * `resolv.conf`: the servers of the container's own /etc/resolv.conf (Kubernetes, whose DNS address differs per
         * cluster). Absent: addresses are resolved once, at start.
         */
        resolvers: z
          .union([
            z.array(z.object({ host: ipAddress, port: port.default(53) }).strict()).min(1),
            z.literal('resolv.conf'),
          ])
          .optional(),
        /** Absent: one HAProxy. Present: keepalived configs for an active-passive pair on the virtual IP. */
        redundancy: redundancySchema.optional(),
      })
      .strict(),
    healthChecks: healthChecksSchema.default({}),
    auth: z
      .object({
        /** false lets anonymous clients read keys; writes always need a session or an API token. */
        readsRequireAuth: z.boolean().default(true),
      })
      .strict()
      .default({}),
    /** Absent: clients reach the gateways directly (DNS round robin), with no HAProxy pair in front. */
    edge: edgeSchema.optional(),
    /** Absent: no DNS zone is rendered. */
    dns: dnsSchema.optional(),
    /** Absent: no prometheus.yml is rendered. */
    monitoring: monitoringSchema.optional(),
  })
  .strict();

export type Topology = z.infer<typeof topologySchema>;
export type TopologyInput = z.input<typeof topologySchema>;
export type Endpoint = z.infer<typeof endpointSchema>;
export type LbAlgorithm = z.infer<typeof lbAlgorithmSchema>;
export type TlsMode = z.infer<typeof tlsModeSchema>;
export type Edge = z.infer<typeof edgeSchema>;
export type EdgeAlgorithm = z.infer<typeof edgeAlgorithmSchema>;
