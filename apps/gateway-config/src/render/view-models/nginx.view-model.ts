import { isAbsolute, join, resolve } from 'node:path';
import type { LbAlgorithm, Topology } from '@keyflow/topology';
import {
  BULK_WRITE_MAX_BODY_SIZE,
  NGINX_CONF_FILE,
  NGINX_TEMP_PATHS,
  RUN_FILES,
  SELF_SIGNED_TLS,
} from '../render.constant';
import { hostPort, type NamedAddress, type RenderPaths } from './view-model.util';

/**
 * The status nginx gives a login over the login rate (`limit_req_status`), answered as 429 by its own problem page so
 * that the detail names the login limit, not the general one. Unassigned in HTTP; never sent to a client.
 */
const LOGIN_LIMITED_STATUS = 430;

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
  /** The `service` of each access log line: `nginx`, or `nginx-<gateway>` for one gateway's own process. */
  serviceName: string;
  tempPaths: Array<{ directive: string; path: string }>;
  clientMaxBodySize: string;
  /** `client_max_body_size` of bulk writes (`location = /v1/kv`): the larger of 8m and `clientMaxBodySize`. */
  bulkMaxBodySize: string;
  /** `large_client_header_buffers`: the longest request line and header line, and how many fit. */
  largeClientHeaderBuffers: string;
  balanceDirective: string | null;
  /** Run-time DNS for the API's name (`gateway.resolver`): no upstream block, proxy_pass to `$keyflow_api`. */
  resolver: { servers: string; valid: string; upstream: string } | null;
  /** `http://keyflow_api` (the upstream block) or `http://$keyflow_api` (resolved at run time). */
  proxyTarget: string;
  /** nginx's passive health check per upstream server, e.g. `max_fails=2 fail_timeout=5s`. */
  upstreamHealth: string;
  upstreams: NamedAddress[];
  /** `add_header` values of every gateway server block. */
  serverHeaders: string[];
  /** `ssl`: a TLS listener (with the certificate); otherwise plain HTTP (`tls.plainHttp: serve`, or TLS off). */
  /** Each server's `listen` addresses: a gateway's own, and its address on the edge's bridge. */
  servers: Array<{ name: string; listen: string[]; ssl: boolean }>;
  tls: { certFile: string; keyFile: string } | null;
  /**
   * Plain-HTTP servers that redirect to HTTPS, except the paths in `plainPaths` (health checks, the seed's
   * `/store`), which they serve as the HTTPS servers do.
   */
  redirects: Array<{ name: string; listen: string; target: string }>;
  plainPaths: string[];
  rateLimit: { zone: string; rate: string; zoneSize: string; burst: number } | null;
  loginRateLimit: { zone: string; rate: string; burst: number; status: number };
  trustedForwarders: string[];
  problems: { notFound: string; pages: ProblemPageView[] };
  /** The web console's static files and the `add_header` values of their location (after the server's own). */
  console: { root: string; headers: string[] };
}

/**
 * The console's Content-Security-Policy: its own scripts, styles and API only — no inline script or style, no
 * eval, no other origin, no framing. `data:` images are for the empty favicon. The console is built to need no more.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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
    [
      413,
      413,
      'Content Too Large',
      `The request body exceeds the gateway limit of ${t.gateway.clientMaxBodySize} (${bulkMaxBodySize(t)} for bulk writes, POST /v1/kv).`,
    ],
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
  const logins = t.gateway.loginRateLimit;
  pages.push([
    LOGIN_LIMITED_STATUS,
    429,
    'Too Many Requests',
    `This client sent more than ${logins.requestsPerMinute} logins per minute to this gateway; retry later.`,
  ]);
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
          headers:
            status === 429
              ? [
                  ...serverHeaders,
                  `Retry-After ${code === LOGIN_LIMITED_STATUS ? Math.ceil(60 / logins.requestsPerMinute) : 1}`,
                ]
              : [],
        };
      }),
  };
}

/** nginx sizes (`2m`, `64k`, `1048576`) in bytes. */
function sizeInBytes(size: string): number {
  const unit = size.slice(-1).toLowerCase();
  const scale = unit === 'm' ? 1024 * 1024 : unit === 'k' ? 1024 : 1;
  return Number(scale === 1 ? size : size.slice(0, -1)) * scale;
}

function bulkMaxBodySize(t: Topology): string {
  const general = t.gateway.clientMaxBodySize;
  return sizeInBytes(general) > sizeInBytes(BULK_WRITE_MAX_BODY_SIZE) ? general : BULK_WRITE_MAX_BODY_SIZE;
}

/** The certificate and key nginx reads, or null when TLS is off. */
export function tlsFiles(t: Topology, outDir: string): { certFile: string; keyFile: string } | null {
  const tls = t.gateway.tls;
  switch (tls.mode) {
    case 'off':
      return null;
    case 'self-signed':
    case 'local-ca':
      return { certFile: join(outDir, SELF_SIGNED_TLS.cert), keyFile: join(outDir, SELF_SIGNED_TLS.key) };
    case 'files':
      // The schema requires both in files mode.
      return { certFile: tls.certFile ?? '', keyFile: tls.keyFile ?? '' };
  }
}

/**
 * The gateway's second address, on the local stack's bridge, where the edge pair in its network namespaces reaches
 * it (`edge.network.gatewayAddresses`); none when the edge peers are real hosts.
 */
function edgeAddressOf(t: Topology, gateway: string): string[] {
  const index = t.gateway.instances.findIndex((g) => g.name === gateway);
  const address = t.edge?.network?.gatewayAddresses[index];
  return address ? [address] : [];
}

/**
 * Where each gateway server listens. listenAll: one server per distinct port on every address (one nginx per
 * host or container); otherwise one per instance address.
 */
function nginxListeners(t: Topology, ssl: boolean): Array<{ name: string; listen: string[]; port: number }> {
  const suffix = ssl ? ' ssl' : '';
  const instances = t.gateway.instances;
  if (!t.gateway.listenAll) {
    return instances.map((g) => ({
      name: g.name,
      listen: [g.host, ...(ssl ? edgeAddressOf(t, g.name) : [])].map((host) => `${hostPort(host, g.port)}${suffix}`),
      port: g.port,
    }));
  }
  const ports = [...new Set(instances.map((g) => g.port))];
  return ports.map((port) => ({
    name: instances
      .filter((g) => g.port === port)
      .map((g) => g.name)
      .join(','),
    listen: [`${port}${suffix}`],
    port,
  }));
}

/**
 * With `tls.plainHttp: serve`, the plain HTTP port of each gateway is a full server like the HTTPS one (a test
 * stack), instead of a redirect.
 */
function plainServers(t: Topology): NginxView['servers'] {
  const port = t.gateway.tls.redirectHttpPort;
  if (port === undefined || t.gateway.tls.mode === 'off' || t.gateway.tls.plainHttp !== 'serve') return [];
  const plain = { ...t, gateway: { ...t.gateway, instances: t.gateway.instances.map((g) => ({ ...g, port })) } };
  return nginxListeners(plain, false).map(({ name, listen }) => ({ name, listen, ssl: false }));
}

/** Served on the plain HTTP port rather than redirected: load balancers' health checks and the seed's routes. */
export const PLAIN_HTTP_PATHS = ['/health/', '/store'] as const;

function nginxRedirects(t: Topology): NginxView['redirects'] {
  const port = t.gateway.tls.redirectHttpPort;
  if (port === undefined || t.gateway.tls.mode === 'off' || t.gateway.tls.plainHttp === 'serve') return [];
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

/**
 * The file names one nginx process uses: `nginx.conf`, `nginx.pid`, … for the whole gateway tier, or
 * `nginx-<gateway>.conf`, `nginx-<gateway>.pid`, … for one gateway's own process (see `gatewayTopology`).
 */
export function nginxFileNames(gateway?: string): {
  conf: string;
  pid: string;
  errorLog: string;
  accessLog: string;
  tempSuffix: string;
} {
  if (!gateway) {
    return {
      conf: NGINX_CONF_FILE,
      pid: RUN_FILES.nginxPid,
      errorLog: RUN_FILES.nginxErrorLog,
      accessLog: RUN_FILES.nginxAccessLog,
      tempSuffix: '',
    };
  }
  return {
    conf: `nginx-${gateway}.conf`,
    pid: `nginx-${gateway}.pid`,
    errorLog: `nginx-${gateway}-error.log`,
    accessLog: `nginx-${gateway}-access.log`,
    tempSuffix: `-${gateway}`,
  };
}

/** The topology as one gateway's own nginx sees it: only that gateway's listeners. */
export function gatewayTopology(t: Topology, gateway: string): Topology {
  const instance = t.gateway.instances.find((g) => g.name === gateway);
  if (!instance) throw new Error(`no gateway "${gateway}" in topology "${t.name}"`);
  const index = t.gateway.instances.indexOf(instance);
  const network = t.edge?.network;
  // Its own address on the edge's bridge, at the same index as the one instance left.
  const edge = t.edge && {
    ...t.edge,
    ...(network ? { network: { ...network, gatewayAddresses: network.gatewayAddresses.slice(index, index + 1) } } : {}),
  };
  return { ...t, gateway: { ...t.gateway, instances: [instance] }, ...(edge ? { edge } : {}) };
}

/**
 * The view of nginx.conf. With `gateway`, the config of that gateway's own nginx process: its listeners only, and
 * its own pid file, logs and temp dirs, so several gateways on one host run (and die) independently.
 */
function resolverView(t: Topology): NginxView['resolver'] {
  const resolver = t.gateway.resolver;
  const [api] = t.api.instances;
  if (!resolver || !api) return null;
  return { servers: resolver.servers.join(' '), valid: resolver.valid, upstream: hostPort(api.host, api.port) };
}

export function buildNginxView(
  topology: Topology,
  { runDir, outDir, baseDir }: RenderPaths,
  gateway?: string,
): NginxView {
  const t = gateway ? gatewayTopology(topology, gateway) : topology;
  const names = nginxFileNames(gateway);
  const tls = tlsFiles(t, outDir);
  // HSTS only with an operator's certificate: a browser that pinned HSTS for a self-signed name is stuck.
  const serverHeaders = [
    'X-Request-Id $request_id',
    // Which gateway address the client reached (the console's profile shows it: DNS round robin picks one).
    'X-Gateway-Address $server_addr:$server_port',
    ...(t.gateway.tls.mode === 'files' ? ['Strict-Transport-Security "max-age=31536000"'] : []),
  ];
  const health = t.healthChecks.gateway;
  const rateLimit = t.gateway.rateLimit;
  return {
    topologyName: t.name,
    daemon: t.gateway.daemon ? 'on' : 'off',
    startHint: t.gateway.daemon ? 'Started detached by the stack:' : 'Runs in the foreground (a container):',
    runDir,
    confFile: join(outDir, names.conf),
    pidFile: join(runDir, names.pid),
    errorLog: join(runDir, names.errorLog),
    accessLog: t.gateway.accessLog ? join(runDir, names.accessLog) : null,
    serviceName: gateway ? `nginx-${gateway}` : 'nginx',
    tempPaths: Object.entries(NGINX_TEMP_PATHS).map(([directive, dir]) => ({
      directive,
      path: join(runDir, `${dir}${names.tempSuffix}`),
    })),
    clientMaxBodySize: t.gateway.clientMaxBodySize,
    bulkMaxBodySize: bulkMaxBodySize(t),
    largeClientHeaderBuffers: `${LARGE_HEADER_BUFFERS.count} ${LARGE_HEADER_BUFFERS.size}`,
    balanceDirective: nginxBalanceDirective(t.gateway.algorithm),
    resolver: resolverView(t),
    proxyTarget: t.gateway.resolver ? 'http://$keyflow_api' : 'http://keyflow_api',
    upstreamHealth: `max_fails=${health.maxFails} fail_timeout=${health.failTimeout}`,
    upstreams: t.api.instances.map((a) => ({ name: a.name, address: hostPort(a.host, a.port) })),
    serverHeaders,
    servers: [
      ...nginxListeners(t, tls !== null).map(({ name, listen }) => ({ name, listen, ssl: tls !== null })),
      ...plainServers(t),
    ],
    tls,
    redirects: nginxRedirects(t),
    plainPaths: [...PLAIN_HTTP_PATHS],
    rateLimit: rateLimit
      ? {
          zone: 'keyflow_per_client',
          rate: `${rateLimit.requestsPerSecond}r/s`,
          zoneSize: rateLimit.zoneSize,
          burst: rateLimit.burst,
        }
      : null,
    loginRateLimit: {
      zone: 'keyflow_logins',
      rate: `${t.gateway.loginRateLimit.requestsPerMinute}r/m`,
      burst: t.gateway.loginRateLimit.burst,
      status: LOGIN_LIMITED_STATUS,
    },
    // The edge pair's peers terminate TLS in front of the gateways and say who the client was.
    trustedForwarders: [
      ...new Set([...t.gateway.trustedForwarders, ...(t.edge?.redundancy.peers.map((p) => p.address) ?? [])]),
    ],
    problems: nginxProblems(t, serverHeaders, tls !== null),
    console: {
      root: isAbsolute(t.gateway.consoleRoot)
        ? t.gateway.consoleRoot
        : resolve(baseDir ?? process.cwd(), t.gateway.consoleRoot),
      headers: [
        `Content-Security-Policy "${CONSOLE_CSP}"`,
        // $keyflow_console_cache_control: a year, immutable, for the content-hashed assets; revalidate index.html.
        'Cache-Control $keyflow_console_cache_control',
        'X-Content-Type-Options nosniff',
        'Referrer-Policy no-referrer',
      ],
    },
  };
}
