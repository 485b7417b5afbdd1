import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadTopology, parseTopology, type Topology, type TopologyInput } from '@keyflow/topology';
import { renderAll, renderGatewayConfigs, type RenderedFile } from './render.service';
import { pgPrimaryCheck } from './pg-check.util';
import { buildNginxView, CONSOLE_CSP } from './view-models/nginx.view-model';

const TOPOLOGIES_DIR = join(__dirname, '../../../../deploy/topologies');
const paths = { runDir: '/srv/keyflow/run', outDir: '/srv/keyflow/conf', baseDir: '/srv/keyflow' };
/**
 * local.yaml in plain HTTP on 8080 (its TLS off, so without its edge pair, which terminates TLS): the base every
 * variant below changes one thing of. The snapshots render the files as they are.
 */
const local = (): Topology => {
  const { edge: _edge, ...t } = loadTopology(join(TOPOLOGIES_DIR, 'local.yaml'));
  return parseTopology({
    ...t,
    gateway: { ...t.gateway, tls: { mode: 'off' }, instances: t.gateway.instances.map((g) => ({ ...g, port: 8080 })) },
  });
};

/** local.yaml with some parts replaced, validated like any topology file. */
function variant(patch: (t: TopologyInput) => TopologyInput): Topology {
  return parseTopology(patch(structuredClone(local())));
}

function cockroach(t: TopologyInput): TopologyInput {
  return {
    ...t,
    database: {
      kind: 'cockroach',
      nodes: [
        { name: 'crdb-1', host: '127.0.0.1', port: 26257, role: 'node' },
        { name: 'crdb-2', host: '127.0.0.1', port: 26258, role: 'node', httpPort: 8091 },
      ],
    },
  };
}

/** PostgreSQL without a failover manager: a primary and a streaming replica, checked over the wire protocol. */
function plainPostgres(t: TopologyInput): TopologyInput {
  return {
    ...t,
    database: {
      ...t.database,
      failover: undefined,
      nodes: [
        { name: 'pg-primary', host: '127.0.0.1', port: 5501, role: 'primary' },
        { name: 'pg-replica-1', host: '127.0.0.1', port: 5502, role: 'replica' },
      ],
    },
  };
}

function file(files: RenderedFile[], name: string): string {
  const found = files.find((f) => f.file === name);
  if (!found) throw new Error(`${name} was not rendered`);
  return found.content;
}

/** The text of one `{ … }` block (or HAProxy section) starting at the line that begins with `header`. */
function section(content: string, header: string): string {
  // At the start of a line (after indentation), so `backend x` does not find `use_backend x`.
  const escaped = header.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`(^|\\n)[ \\t]*(${escaped})`).exec(content);
  const start = match ? match.index + match[0].length - header.length : -1;
  if (start < 0) throw new Error(`no "${header}" in:\n${content}`);
  if (content.slice(start, content.indexOf('\n', start)).trimEnd().endsWith('{')) {
    let depth = 0;
    for (let i = content.indexOf('{', start); i < content.length; i++) {
      if (content[i] === '{') depth++;
      if (content[i] === '}' && --depth === 0) return content.slice(start, i + 1);
    }
    throw new Error(`unbalanced block "${header}"`);
  }
  const next = content.slice(start + header.length).search(/\n(?:listen|frontend|backend|global|defaults)\b/);
  return next < 0 ? content.slice(start) : content.slice(start, start + header.length + next);
}

describe(renderAll.name, () => {
  describe('snapshots', () => {
    it.each(['local.yaml', 'test.yaml'])('should render %s as in the snapshot', (name) => {
      const files = renderAll(loadTopology(join(TOPOLOGIES_DIR, name)), paths);
      for (const f of files) expect(f.content).toMatchSnapshot(`${name} ${f.file}`);
      expect(files.map((f) => [f.file, f.mode])).toEqual([
        ['nginx.conf', undefined],
        ['haproxy.cfg', undefined],
        ['named.conf', undefined],
        ['keyflow.test.zone', undefined],
        ['prometheus.yml', undefined],
        ['keyflow-alerts.yml', undefined],
        ['alertmanager.yml', undefined],
        ['haproxy-edge.cfg', undefined],
        ['keepalived-edge-lb-1.conf', undefined],
        ['keepalived-edge-lb-2.conf', undefined],
      ]);
    });

    it('should render every file of compose.yaml, production.yaml and kubernetes.yaml as in the snapshot', () => {
      for (const name of ['compose.yaml', 'production.yaml', 'kubernetes.yaml']) {
        const files = renderAll(loadTopology(join(TOPOLOGIES_DIR, name)), paths);
        for (const f of files) expect(f.content).toMatchSnapshot(`${name} ${f.file}`);
      }
      expect(renderAll(loadTopology(join(TOPOLOGIES_DIR, 'production.yaml')), paths).map((f) => f.file)).toEqual([
        'nginx.conf',
        'haproxy.cfg',
        'named.conf',
        'keyflow.example.com.zone',
        'prometheus.yml',
        'keepalived-lb-1.conf',
        'keepalived-lb-2.conf',
        'haproxy-edge.cfg',
        'keepalived-edge-edge-1.conf',
        'keepalived-edge-edge-2.conf',
      ]);
      expect(renderAll(loadTopology(join(TOPOLOGIES_DIR, 'compose.yaml')), paths).map((f) => f.file)).toEqual([
        'nginx.conf',
        'haproxy.cfg',
        'prometheus.yml',
      ]);
    });

    it('should render the cockroach variant as in the snapshot', () => {
      const files = renderAll(variant(cockroach), paths);
      expect(files.map((f) => f.file)).toEqual([
        'nginx.conf',
        'haproxy.cfg',
        'named.conf',
        'keyflow.test.zone',
        'prometheus.yml',
        'keyflow-alerts.yml',
        'alertmanager.yml',
      ]);
      expect(file(files, 'haproxy.cfg')).toMatchSnapshot();
    });
  });

  describe('nginx.conf', () => {
    const nginx = (t: Topology = local()): string => file(renderAll(t, paths), 'nginx.conf');

    it('should send reads to any upstream and retry them once on another', () => {
      const root = section(nginx(), 'location / {');
      expect(root).toContain('error_page 418 = @write;');
      expect(root).toMatch(/if \(\$request_method !~ \^\(GET\|HEAD\|OPTIONS\)\$\) \{\s+return 418;\s+\}/);
      expect(root).toContain('proxy_next_upstream error timeout http_502 http_503 http_504;');
      expect(root).toContain('proxy_next_upstream_tries 2;');
    });

    it('should serve the console from the topology at / and /assets/ only, everything else still proxied', () => {
      const conf = nginx();
      const location = 'location ~ ^/(?:index\\.html)?$|^/assets/ {';
      const console = section(conf, location);
      expect(console).toContain('root /srv/keyflow/dist/apps/console;');
      expect(console).toContain('index index.html;');
      expect(console).not.toContain('proxy_pass');
      const pattern = /^\/(?:index\.html)?$|^\/assets\//;
      for (const path of ['/', '/index.html', '/assets/index-abc123.js']) expect(path).toMatch(pattern);
      for (const path of ['/v1/kv', '/docs', '/store/x', '/health/ready', '/assets']) expect(path).not.toMatch(pattern);
      const absolute = local();
      absolute.gateway.consoleRoot = '/usr/share/keyflow/console';
      expect(section(nginx(absolute), location)).toContain('root /usr/share/keyflow/console;');
    });

    it('should never cache index.html, cache hashed assets for a year, and send a strict CSP with the console', () => {
      const conf = nginx();
      const console = section(conf, 'location ~ ^/(?:index\\.html)?$|^/assets/ {');
      const cache = section(conf, 'map $uri $keyflow_console_cache_control {');
      expect(cache).toContain('default "no-cache";');
      expect(cache).toContain('"~^/assets/" "public, max-age=31536000, immutable";');
      expect(console).toContain('add_header Cache-Control $keyflow_console_cache_control always;');
      expect(console).toContain(`add_header Content-Security-Policy "${CONSOLE_CSP}" always;`);
      expect(CONSOLE_CSP).toContain("script-src 'self'");
      expect(CONSOLE_CSP).not.toContain('unsafe');
      expect(console).toContain('add_header X-Content-Type-Options nosniff always;');
      expect(console).toContain('text/javascript js mjs;');
      // add_header here replaces the server's: its request id and gateway address are repeated.
      expect(console).toContain('add_header X-Request-Id $request_id always;');
      expect(console).toContain('add_header X-Gateway-Address $server_addr:$server_port always;');
    });

    it('should stream GET /v1/watch unbuffered and keep it open past the default read timeout, on HTTP/1.1 keepalive', () => {
      const conf = nginx();
      const watch = section(conf, 'location = /v1/watch {');
      expect(watch).toContain('proxy_pass http://keyflow_api;');
      expect(watch).toContain('proxy_buffering off;');
      expect(watch).toContain('proxy_read_timeout 1h;');
      expect(watch).toContain('send_timeout 1h;');
      // Inherited from the http block: no proxy_set_header here, which would drop those.
      expect(watch).not.toContain('proxy_set_header');
      expect(section(conf, 'http {')).toContain('proxy_http_version 1.1;');
      expect(section(conf, 'http {')).toContain('proxy_set_header Connection "";');
    });

    /** The regex of one `map` entry (`"~<regex>" <value>;`) in the http block, as JavaScript can run it. */
    function mapRegex(conf: string, header: string, value: string): RegExp {
      const map = section(conf, header);
      const entry = new RegExp(`^\\s+"~(.+)"\\s+${value.replace(/[$]/g, '\\$&')};$`, 'm').exec(map);
      if (!entry?.[1]) throw new Error(`no "~…" ${value} entry in:\n${map}`);
      return new RegExp(entry[1]);
    }

    it('should tell the writes the API deduplicates by Idempotency-Key (PUT and DELETE /v1/kv/{key}) from all others', () => {
      const conf = nginx();
      const map = section(conf, 'map "$request_method $request_uri" $keyflow_deduplicated_write {');
      expect(map).toMatch(/^\s+default 0;$/m);
      const deduplicated = mapRegex(conf, 'map "$request_method $request_uri"', '1');
      // The URI as the client sent it: that is what nginx passes on and what the API routes.
      for (const request of ['PUT /v1/kv/a', 'DELETE /v1/kv/user%3A42', 'PUT /v1/kv/a%2Fb?x=1', 'DELETE /v1/kv/..']) {
        expect(request).toMatch(deduplicated);
      }
      for (const request of [
        'GET /v1/kv/a',
        'POST /v1/kv/a',
        'PATCH /v1/kv/a',
        'PUT /store',
        'DELETE /store/a',
        'POST /v1/auth/tokens',
        'PUT /v1/kv/',
        'PUT /v1/kv/../../store',
        'PUT //v1/kv/a',
        'PUT /v1/kv/a/b',
      ]) {
        expect(request).not.toMatch(deduplicated);
      }
    });

    it("should send every deduplicated write upstream with the client's Idempotency-Key, or gw- and the request id", () => {
      const conf = nginx();
      const key = section(conf, 'map "$keyflow_deduplicated_write:$http_idempotency_key" $keyflow_idempotency_key {');
      // Only a deduplicated write without a key of its own gets one; everything else passes the client's through.
      expect(key).toMatch(/^\s+"1:"\s+gw-\$request_id;$/m);
      expect(key).toMatch(/^\s+default \$http_idempotency_key;$/m);
      expect(key.match(/;$/gm)).toHaveLength(2);
      // In the http block, like every other proxy_set_header: one in a location would drop all inherited ones.
      const http = conf.slice(0, conf.indexOf('    server {'));
      expect(http).toContain('proxy_set_header Idempotency-Key $keyflow_idempotency_key;');
      expect(conf.match(/proxy_set_header Idempotency-Key/g)).toHaveLength(1);
    });

    it('should never retry a write the API does not deduplicate on another upstream', () => {
      const write = section(nginx(), 'location @write {');
      expect(write).toContain('proxy_next_upstream off;');
      expect(write).toContain('error_page 418 = @write_idempotent;');
      // Not the client's header: the API ignores an Idempotency-Key on every other write (PUT /store, POST …).
      expect(write).toMatch(/if \(\$keyflow_deduplicated_write\) \{\s+return 418;\s+\}/);
      expect(write).not.toContain('$http_idempotency_key');
      expect(write).not.toMatch(/proxy_next_upstream (?!off)/);
    });

    it('should retry a deduplicated write only on connection errors and timeouts', () => {
      const idempotent = section(nginx(), 'location @write_idempotent {');
      expect(idempotent).toContain('proxy_next_upstream error timeout non_idempotent;');
      expect(idempotent).toContain('proxy_next_upstream_tries 2;');
      expect(idempotent).not.toContain('http_50');
    });

    /** Every error nginx itself can answer, the status the client gets, and the problem title. */
    const GATEWAY_ERRORS = [
      [400, 400, 'Bad Request'],
      [404, 404, 'Not Found'],
      [413, 413, 'Content Too Large'],
      [414, 414, 'URI Too Long'],
      // nginx's own code for a header line or all headers over large_client_header_buffers (it answers 400).
      [494, 431, 'Request Header Fields Too Large'],
      [500, 500, 'Internal Server Error'],
      [501, 501, 'Not Implemented'],
      [502, 502, 'Bad Gateway'],
      [503, 503, 'Service Unavailable'],
      [504, 504, 'Gateway Timeout'],
      [505, 505, 'HTTP Version Not Supported'],
    ] as const;

    it('should send every error nginx produces to its problem page, in the server and after the 418 hops', () => {
      const server = section(nginx(), 'server {');
      expect(server).toContain('recursive_error_pages on;');
      // The server's own list covers errors found before a location is chosen (bad request line, headers).
      const serverLevel = server.slice(0, server.search(/^\s+location /m));
      for (const block of [
        serverLevel,
        ...['location / {', 'location @write {', 'location @write_idempotent {'].map((h) => section(server, h)),
      ]) {
        for (const [code, status] of GATEWAY_ERRORS) {
          const target = `/_gateway/problem/${code}`;
          expect(block).toContain(
            code === status ? `error_page ${code} ${target};` : `error_page ${code} =${status} ${target};`,
          );
        }
        expect(block).not.toMatch(/error_page \d+ @problem/);
      }
    });

    it('should answer gateway errors and hidden paths with problem+json bodies from internal URI locations', () => {
      const conf = nginx();
      for (const [code, status, title] of GATEWAY_ERRORS) {
        // A URI, not a named location: nginx cannot redirect a request whose URI it never parsed to a named one.
        const page = section(conf, `location = /_gateway/problem/${code} {`);
        expect(page).toContain('internal;');
        expect(page).toContain('default_type application/problem+json;');
        const body = /return (\d+) '(.*)';/.exec(page);
        expect(body?.[1]).toBe(String(status));
        const problem = JSON.parse(body?.[2] ?? '') as Record<string, unknown>;
        expect(problem).toEqual({
          type: 'about:blank',
          title,
          status,
          detail: expect.any(String) as unknown,
          requestId: '$request_id',
        });
      }
      for (const header of ['location = /metrics {', 'location ^~ /internal/ {']) {
        expect(section(conf, header)).toMatch(/return 404 '\{"type":"about:blank","title":"Not Found","status":404,/);
      }
      expect(section(conf, 'http {')).toContain('large_client_header_buffers 4 8k;');
    });

    it('should tell a client how to repeat a write after a 502 or 504 from the gateway', () => {
      const conf = nginx();
      for (const status of [502, 504]) {
        const body = /return \d+ '(.*)';/.exec(section(conf, `location = /_gateway/problem/${status} {`))?.[1];
        const { detail } = JSON.parse(body ?? '{}') as { detail: string };
        expect(detail).toContain('same Idempotency-Key');
        expect(detail).toContain('gw-');
      }
    });

    it('should list every API instance in the upstream with passive health checks and keepalive', () => {
      const upstream = section(nginx(), 'upstream keyflow_api {');
      expect(upstream).toContain('server 127.0.0.1:3001 max_fails=2 fail_timeout=5s; # api-1');
      expect(upstream).toContain('server 127.0.0.1:3002 max_fails=2 fail_timeout=5s; # api-2');
      expect(upstream.match(/^\s+server /gm)).toHaveLength(2);
      expect(upstream).toContain('keepalive 64;');
      const conf = nginx();
      expect(conf).toContain('proxy_http_version 1.1;');
      expect(conf).toContain('proxy_set_header Connection "";');
    });

    it.each([
      ['leastconn', 'least_conn;'],
      ['source', 'ip_hash;'],
      ['roundrobin', undefined],
    ] as const)('should map the %s algorithm to %s', (algorithm, directive) => {
      const upstream = section(nginx(variant((t) => ({ ...t, gateway: { ...t.gateway, algorithm } }))), 'upstream');
      expect(upstream.match(/^\s+(least_conn|ip_hash|hash|random);/m)?.[0].trim()).toBe(directive);
    });

    it('should render one server per gateway instance', () => {
      const conf = nginx(
        variant((t) => ({
          ...t,
          gateway: {
            ...t.gateway,
            instances: [21, 22, 23].map((n) => ({ name: `gateway-${n}`, host: `127.0.0.${n}`, port: 8080 })),
          },
        })),
      );
      expect([...conf.matchAll(/^\s+listen (\S+); # (\S+)$/gm)].map((m) => [m[1], m[2]])).toEqual([
        ['127.0.0.21:8080', 'gateway-21'],
        ['127.0.0.22:8080', 'gateway-22'],
        ['127.0.0.23:8080', 'gateway-23'],
      ]);
    });

    it('should keep every run-time path absolute under the run dir', () => {
      const conf = nginx();
      // The local stack's supervisor runs nginx in the foreground.
      expect(conf).toMatch(/^daemon off;$/m);
      expect(conf).toMatch(/^worker_processes 1;$/m);
      expect(conf).toMatch(/^pid \/srv\/keyflow\/run\/nginx\.pid;$/m);
      expect(conf).toMatch(/^error_log \/srv\/keyflow\/run\/nginx-error\.log warn;$/m);
      const temps = [...conf.matchAll(/^\s+(\w+_temp_path) (\S+);$/gm)];
      expect(temps.map((m) => m[1]).sort()).toEqual([
        'client_body_temp_path',
        'fastcgi_temp_path',
        'proxy_temp_path',
        'scgi_temp_path',
        'uwsgi_temp_path',
      ]);
      for (const m of temps) expect(m[2]).toMatch(/^\/srv\/keyflow\/run\/nginx-[a-z-]+$/);
    });

    it('should pass the request id, client address and scheme upstream and return the id to the client', () => {
      const conf = nginx();
      for (const header of [
        'proxy_set_header X-Request-Id $request_id;',
        'proxy_set_header X-Real-IP $remote_addr;',
        'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
        'proxy_set_header X-Forwarded-Proto $keyflow_forwarded_proto;',
        'proxy_set_header Host $http_host;',
        'add_header X-Request-Id $request_id always;',
        'proxy_read_timeout 65s;',
        'server_tokens off;',
      ]) {
        expect(conf).toContain(header);
      }
    });

    it('should take the body size limit and the access log switch from the topology', () => {
      expect(nginx()).toContain('client_max_body_size 2m;');
      expect(nginx()).toContain('access_log /srv/keyflow/run/nginx-access.log keyflow_json buffer=64k flush=1s;');
      expect(nginx()).toContain('"requestId":"$request_id"');
      const quiet = nginx(
        variant((t) => ({ ...t, gateway: { ...t.gateway, clientMaxBodySize: '64k', accessLog: false } })),
      );
      expect(quiet).toContain('client_max_body_size 64k;');
      expect(quiet).toContain('location = /v1/kv {\n            client_max_body_size 8m;');
      expect(quiet).toContain('location @bulk_write {\n            client_max_body_size 8m;');
      const roomy = nginx(variant((t) => ({ ...t, gateway: { ...t.gateway, clientMaxBodySize: '16m' } })));
      expect(roomy).toContain('location = /v1/kv {\n            client_max_body_size 16m;');
      expect(quiet).toContain('access_log off;');
      expect(quiet).not.toContain('nginx-access.log');
    });
  });

  describe('haproxy.cfg', () => {
    const haproxy = (t: Topology = local()): string => file(renderAll(t, paths), 'haproxy.cfg');

    it('should keep the pid file and the stats socket under the run dir', () => {
      const global = section(haproxy(), 'global');
      expect(global).toContain('pidfile /srv/keyflow/run/haproxy.pid');
      expect(global).toContain('stats socket /srv/keyflow/run/haproxy.sock mode 600 level admin');
      expect(global).toContain('maxconn 4096');
    });

    it('should send postgres writes only to the node the protocol check finds to be the primary', () => {
      const conf = haproxy(
        variant((t) => plainPostgres({ ...t, database: { ...t.database, name: 'kf_db', user: 'kf_user' } })),
      );
      expect(section(conf, 'global')).not.toContain('external-check');
      const write = section(conf, 'listen db_write');
      expect(write).toContain('bind 127.0.0.1:6501');
      // The check's own protocol messages, in order, for the topology's user and database.
      const check = pgPrimaryCheck('kf_user', 'kf_db');
      expect(write).toContain(
        [
          'option tcp-check',
          'tcp-check connect',
          `tcp-check send-binary ${check.startup}`,
          `tcp-check expect binary ${check.readyForQuery}`,
          `tcp-check send-binary ${check.queryAndTerminate}`,
          `tcp-check expect binary ${check.primaryRow}`,
        ].join('\n    '),
      );
      expect(write).toContain('default-server check inter 1s fall 3 rise 1 on-marked-down shutdown-sessions');
      expect(write).toMatch(/server pg-primary 127\.0\.0\.1:5501\n\s+server pg-replica-1 127\.0\.0\.1:5502/);
    });

    it('should send postgres reads to replicas and fall back to the primary', () => {
      const read = section(haproxy(variant(plainPostgres)), 'listen db_read');
      expect(read).toContain('bind 127.0.0.1:6502');
      expect(read).toMatch(/^\s+server pg-replica-1 127\.0\.0\.1:5502$/m);
      expect(read).toMatch(/^\s+server pg-primary 127\.0\.0\.1:5501 backup$/m);
    });

    it('should send writes under Patroni only to the node whose REST API says it is the primary', () => {
      const conf = haproxy();
      expect(conf).not.toContain('tcp-check');
      const write = section(conf, 'listen db_write');
      expect(write).toContain('option httpchk OPTIONS /primary');
      expect(write).toContain('http-check expect status 200');
      expect(write).toContain('default-server check inter 1s fall 3 rise 1 on-marked-down shutdown-sessions');
      expect(write).toContain(
        [
          'server pg-1 127.0.0.1:5501 check port 8008',
          'server pg-2 127.0.0.1:5502 check port 8009',
          'server pg-3 127.0.0.1:5503 check port 8010',
        ].join('\n    '),
      );
    });

    it('should send reads under Patroni to its replicas, and to the primary only while none is up', () => {
      const conf = haproxy();
      const front = section(conf, 'frontend db_read');
      expect(front).toContain('bind 127.0.0.1:6502');
      expect(front).toContain('use_backend db_read_replicas if { nbsrv(db_read_replicas) gt 0 }');
      expect(front).toContain('default_backend db_read_primary');
      expect(section(conf, 'backend db_read_replicas')).toContain('option httpchk OPTIONS /replica');
      expect(section(conf, 'backend db_read_primary')).toContain('option httpchk OPTIONS /primary');
    });

    it('should check every cockroach node on /health?ready=1 at its HTTP port', () => {
      const conf = haproxy(variant(cockroach));
      expect(conf).not.toContain('tcp-check');
      for (const name of ['listen db_write', 'listen db_read']) {
        const listen = section(conf, name);
        expect(listen).toContain('option httpchk GET /health?ready=1');
        expect(listen).toContain('balance roundrobin');
        expect(listen).toContain('server crdb-1 127.0.0.1:26257 check port 8080');
        expect(listen).toContain('server crdb-2 127.0.0.1:26258 check port 8091');
      }
    });

    it('should balance AMQP by least connections over every RabbitMQ node with TCP checks', () => {
      const amqp = section(haproxy(), 'listen amqp');
      expect(amqp).toContain('bind 127.0.0.1:5700');
      expect(amqp).toContain('balance leastconn');
      expect(amqp).toContain('timeout client 3h');
      expect(amqp).toContain('timeout server 3h');
      expect(amqp.match(/^\s+server rmq\d 127\.0\.0\.1:570\d check inter 2s/gm)).toHaveLength(3);
    });

    it('should serve the stats page and Prometheus metrics', () => {
      const stats = section(haproxy(), 'frontend stats');
      expect(stats).toContain('bind 127.0.0.1:8404');
      expect(stats).toContain('mode http');
      expect(stats).toContain('stats uri /stats');
      expect(stats).toContain('http-request use-service prometheus-exporter if { path /metrics }');
    });
  });

  describe('paths', () => {
    it.each([
      [{ runDir: 'run', outDir: '/srv/conf' }, /runDir must be an absolute path/],
      [{ runDir: '/srv/run', outDir: './conf' }, /outDir must be an absolute path/],
      [{ runDir: '/srv/my run', outDir: '/srv/conf' }, /runDir must not contain whitespace/],
      [{ runDir: '/srv/run', outDir: '/srv/co;nf' }, /outDir must not contain/],
    ])('should refuse %o', (bad, message) => {
      expect(() => renderAll(local(), bad)).toThrow(message);
    });
  });

  describe('nginx.conf TLS, rate limit and listening', () => {
    const nginx = (t: Topology): string => file(renderAll(t, paths), 'nginx.conf');
    const withGateway = (gateway: Partial<TopologyInput['gateway']>): Topology =>
      variant((t) => ({ ...t, gateway: { ...t.gateway, ...gateway } }));

    it('should terminate TLS with the self-signed pair from the out dir and redirect plain HTTP', () => {
      const conf = nginx(withGateway({ tls: { mode: 'self-signed', redirectHttpPort: 8081 } }));
      const server = section(conf, 'server {');
      expect(server).toMatch(/^\s+listen 127\.0\.0\.21:8080 ssl; # gateway-1$/m);
      expect(server).toContain('ssl_certificate /srv/keyflow/conf/gateway.crt;');
      expect(server).toContain('ssl_certificate_key /srv/keyflow/conf/gateway.key;');
      expect(server).not.toContain('Strict-Transport-Security');
      expect(conf).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
      // Plain HTTP sent to the TLS port (nginx's 497) is a problem document too, with status 400.
      expect(server.slice(0, server.search(/^\s+location /m))).toContain('error_page 497 =400 /_gateway/problem/497;');
      const page = section(conf, 'location = /_gateway/problem/497 {');
      expect(JSON.parse(/return 400 '(.*)';/.exec(page)?.[1] ?? '')).toMatchObject({
        title: 'Bad Request',
        status: 400,
      });
      const redirect = conf.slice(conf.indexOf('# Plain HTTP points clients at HTTPS'));
      expect(redirect).toContain('listen 127.0.0.21:8081; # gateway-1');
      expect(redirect).toContain('return 308 https://$host:8080$request_uri;');
      // nginx's own errors on the redirect port are problem documents too.
      expect(redirect).toContain('add_header X-Request-Id $request_id always;');
      expect(redirect).toContain('error_page 400 /_gateway/problem/400;');
      expect(redirect).toContain('location = /_gateway/problem/400 {');
    });

    it("should use the operator's certificate files and send HSTS with them", () => {
      const conf = nginx(
        withGateway({ tls: { mode: 'files', certFile: '/etc/keyflow/tls/a.crt', keyFile: '/etc/keyflow/tls/a.key' } }),
      );
      expect(conf).toContain('ssl_certificate /etc/keyflow/tls/a.crt;');
      expect(conf).toContain('ssl_certificate_key /etc/keyflow/tls/a.key;');
      expect(section(conf, 'server {')).toContain('add_header Strict-Transport-Security "max-age=31536000" always;');
      expect(conf).not.toContain('return 308');
    });

    it('should render no TLS and no general rate limit unless the topology asks', () => {
      const conf = nginx(local());
      for (const directive of [
        'ssl',
        'zone=keyflow_per_client',
        '/_gateway/problem/429',
        '/_gateway/problem/497',
        'return 308',
        'set_real_ip_from',
      ]) {
        expect(conf).not.toContain(directive);
      }
    });

    it('should limit logins per client address, answering 429 problem+json that names the login limit', () => {
      const conf = nginx(withGateway({ loginRateLimit: { requestsPerMinute: 12, burst: 3 } }));
      expect(conf).toContain('limit_req_zone $binary_remote_addr zone=keyflow_logins:1m rate=12r/m;');
      const login = section(conf, 'location = /v1/auth/login {');
      expect(login).toContain('limit_req zone=keyflow_logins burst=3 nodelay;');
      expect(login).toContain('limit_req_status 430;');
      expect(login).toContain('error_page 430 =429 /_gateway/problem/430;');
      expect(login).toContain('proxy_next_upstream off;');
      const page = section(conf, 'location = /_gateway/problem/430 {');
      expect(page).toContain('add_header Retry-After 5 always;');
      expect(page).toContain('This client sent more than 12 logins per minute to this gateway; retry later.');
    });

    it('should believe X-Forwarded-Proto https and X-Forwarded-For only from trusted forwarders', () => {
      const none = nginx(local());
      expect(none).toContain('"1:http:https" https;');
      expect(section(none, 'geo $realip_remote_addr $keyflow_trusted_forwarder {')).not.toContain(' 1;');
      const conf = nginx(withGateway({ trustedForwarders: ['10.1.0.0/16', '192.0.2.7'] }));
      const geo = section(conf, 'geo $realip_remote_addr $keyflow_trusted_forwarder {');
      expect(geo).toContain('10.1.0.0/16 1;');
      expect(geo).toContain('192.0.2.7 1;');
      expect(conf).toContain('set_real_ip_from 10.1.0.0/16;');
      expect(conf).toContain('real_ip_header X-Forwarded-For;');
    });

    it('should limit requests per client and answer 429 as problem+json with Retry-After', () => {
      const conf = nginx(withGateway({ rateLimit: { requestsPerSecond: 25, burst: 40, zoneSize: '5m' } }));
      expect(conf).toContain('limit_req_zone $binary_remote_addr zone=keyflow_per_client:5m rate=25r/s;');
      expect(conf).toContain('limit_req_status 429;');
      const server = section(conf, 'server {');
      expect(server).toContain('limit_req zone=keyflow_per_client burst=40 nodelay;');
      for (const header of ['location / {', 'location @write {', 'location @write_idempotent {']) {
        expect(section(server, header)).toContain('error_page 429 /_gateway/problem/429;');
      }
      const page = section(conf, 'location = /_gateway/problem/429 {');
      // A location's add_header replaces the inherited ones, so the request id is repeated here.
      expect(page).toContain('add_header X-Request-Id $request_id always;');
      expect(page).toContain('add_header Retry-After 1 always;');
      const body = /return 429 '(.*)';/.exec(page)?.[1] ?? '';
      expect(JSON.parse(body)).toMatchObject({ type: 'about:blank', title: 'Too Many Requests', status: 429 });
    });

    it('should listen on every address once per port with listenAll, and stay in the foreground without daemon', () => {
      const conf = nginx(
        withGateway({
          listenAll: true,
          daemon: false,
          instances: [
            { name: 'gateway-1', host: '10.0.0.1', port: 8080 },
            { name: 'gateway-2', host: '10.0.0.2', port: 8080 },
          ],
        }),
      );
      expect(conf).toMatch(/^daemon off;$/m);
      expect([...conf.matchAll(/^\s+listen (.+); # (\S+)$/gm)].map((m) => [m[1], m[2]])).toEqual([
        ['8080', 'gateway-1,gateway-2'],
      ]);
    });

    it('should take the passive health check from healthChecks.gateway', () => {
      const conf = nginx(variant((t) => ({ ...t, healthChecks: { gateway: { maxFails: 5, failTimeout: '30s' } } })));
      expect(section(conf, 'upstream keyflow_api {')).toContain(
        'server 127.0.0.1:3001 max_fails=5 fail_timeout=30s; # api-1',
      );
    });
  });

  describe('haproxy.cfg checks, binds and resolvers', () => {
    const haproxy = (t: Topology): string => file(renderAll(t, paths), 'haproxy.cfg');

    it('should take check intervals and thresholds from healthChecks', () => {
      const conf = haproxy(
        variant((t) =>
          plainPostgres({
            ...t,
            healthChecks: {
              database: { interval: '3s', fall: 4, rise: 2 },
              amqp: { interval: '5s', fall: 3, rise: 3 },
            },
          }),
        ),
      );
      expect(section(conf, 'listen db_write')).toContain(
        'default-server check inter 3s fall 4 rise 2 on-marked-down shutdown-sessions',
      );
      expect(section(conf, 'listen db_read')).toContain('default-server check inter 3s fall 4 rise 2');
      expect(section(conf, 'listen amqp')).toContain('server rmq1 127.0.0.1:5701 check inter 5s fall 3 rise 3');
    });

    it('should bind every address with listenAll and resolve servers at run time with resolvers', () => {
      const conf = haproxy(
        variant((t) =>
          plainPostgres({
            ...t,
            haproxy: { ...t.haproxy, listenAll: true, resolvers: [{ host: '127.0.0.11', port: 53 }] },
          }),
        ),
      );
      expect(section(conf, 'resolvers keyflow_dns')).toContain('nameserver dns1 127.0.0.11:53');
      for (const [name, port] of [
        ['listen db_write', 6501],
        ['listen db_read', 6502],
        ['listen amqp', 5700],
        ['frontend stats', 8404],
      ] as const) {
        expect(section(conf, name)).toContain(`bind *:${port}`);
      }
      expect(section(conf, 'listen amqp')).toMatch(
        /server rmq1 \S+ check .* resolvers keyflow_dns init-addr last,libc,none$/m,
      );
    });

    it('should serve stats on every address of each peer of a redundant pair, and the rest on the virtual IP', () => {
      const conf = haproxy(loadTopology(join(TOPOLOGIES_DIR, 'production.yaml')));
      expect(section(conf, 'frontend stats')).toContain('bind *:8404');
      expect(section(conf, 'listen db_write')).toContain('bind 10.20.7.10:26257');
      expect(section(conf, 'listen db_write')).toContain('server cockroach-1 10.20.6.11:26257 check port 8080');
    });
  });

  describe('named.conf and the zone', () => {
    const dnsTopology = (gateways: string[]): Topology =>
      variant((t) => ({
        ...t,
        gateway: {
          ...t.gateway,
          instances: gateways.map((host, i) => ({ name: `gateway-${i + 1}`, host, port: 8080 })),
        },
        dns: { zone: 'keyflow.test', name: 'api', server: { host: '127.0.0.1', port: 5353 }, ttl: 10, serial: 7 },
      }));

    it('should serve the zone authoritatively, in rotation, from private run-time paths', () => {
      const conf = file(renderAll(dnsTopology(['127.0.0.21']), paths), 'named.conf');
      const options = section(conf, 'options {');
      for (const line of [
        'directory "/srv/keyflow/run";',
        'pid-file "/srv/keyflow/run/named.pid";',
        'session-keyfile "/srv/keyflow/run/named-session.key";',
        'listen-on port 5353 { 127.0.0.1; };',
        'listen-on-v6 { none; };',
        'recursion no;',
        'rrset-order { order cyclic; };',
      ]) {
        expect(options).toContain(line);
      }
      expect(conf).toContain('controls { };');
      expect(section(conf, 'zone "keyflow.test" IN {')).toContain('file "/srv/keyflow/conf/keyflow.test.zone";');
    });

    it('should publish one record per gateway address, AAAA for IPv6', () => {
      const topology = dnsTopology(['127.0.0.21', '127.0.0.22', '::1']);
      const zone = file(renderAll(topology, paths), 'keyflow.test.zone');
      expect(zone).toContain('$ORIGIN keyflow.test.');
      expect(zone).toContain('$TTL 10');
      expect(zone).toMatch(/^@ IN SOA ns1\.keyflow\.test\. hostmaster\.keyflow\.test\. \(\n\s+7 ; serial$/m);
      expect(zone).toContain('ns1 IN A 127.0.0.1');
      expect(zone.match(/^api IN .*$/gm)).toEqual(['api IN A 127.0.0.21', 'api IN A 127.0.0.22', 'api IN AAAA ::1']);
    });
  });

  describe('prometheus.yml', () => {
    const prometheus = (t: Topology): Record<string, unknown> =>
      parseYaml(file(renderAll(t, paths), 'prometheus.yml')) as Record<string, unknown>;
    interface Job {
      job_name: string;
      metrics_path: string;
      params?: Record<string, string[]>;
      static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
      relabel_configs?: Array<Record<string, unknown>>;
    }
    const jobs = (t: Topology): Record<string, Job> =>
      Object.fromEntries((prometheus(t).scrape_configs as Job[]).map((j) => [j.job_name, j]));
    const targets = (job: Job | undefined): string[] => job?.static_configs.flatMap((c) => c.targets) ?? [];

    it('should scrape the APIs, workers, HAProxy, RabbitMQ, Redis and cockroach nodes', () => {
      const production = loadTopology(join(TOPOLOGIES_DIR, 'production.yaml'));
      const all = jobs(production);
      expect(Object.keys(all)).toEqual([
        'prometheus',
        'keyflow-api',
        'keyflow-worker',
        'haproxy',
        'haproxy-edge',
        'rabbitmq',
        'redis',
        'cockroach',
      ]);
      expect(targets(all['haproxy-edge'])).toEqual(['10.20.0.11:8405', '10.20.0.12:8405']);
      expect(targets(all['keyflow-api'])).toEqual(production.api.instances.map((a) => `${a.host}:${a.port}`));
      expect(all['keyflow-api']?.static_configs[0]?.labels).toEqual({ keyflow_instance: 'api-1' });
      expect(targets(all['keyflow-worker'])).toEqual(production.worker.instances.map((w) => `${w.host}:${w.port}`));
      expect(targets(all.haproxy)).toEqual(['10.20.7.11:8404', '10.20.7.12:8404']);
      expect(targets(all.rabbitmq)).toEqual(['10.20.5.11:15692', '10.20.5.12:15692', '10.20.5.13:15692']);
      expect(all.cockroach).toMatchObject({ metrics_path: '/_status/vars' });
      expect(targets(all.cockroach)).toEqual(['10.20.6.11:8080', '10.20.6.12:8080', '10.20.6.13:8080']);
      expect(all.redis).toMatchObject({ metrics_path: '/scrape' });
      expect(targets(all.redis)).toEqual(production.redis.nodes.map((n) => `redis://${n.host}:${n.port}`));
      expect(all.redis?.relabel_configs?.at(-1)).toEqual({
        target_label: '__address__',
        replacement: '10.20.9.10:9121',
      });
      expect(prometheus(production).global).toEqual({
        scrape_interval: '15s',
        evaluation_interval: '15s',
        external_labels: { topology: 'production' },
      });
    });

    it('should scrape postgres through the exporter with its auth module', () => {
      const t = variant((x) => ({
        ...x,
        rabbitmq: { ...x.rabbitmq, nodes: x.rabbitmq.nodes.map((n, i) => ({ ...n, prometheusPort: 15790 + i })) },
        monitoring: {
          prometheus: { host: '127.0.0.1', port: 9090 },
          exporters: { postgres: { host: '127.0.0.9', port: 9999, authModule: 'kf' } },
        },
      }));
      const all = jobs(t);
      expect(all.postgres).toMatchObject({ metrics_path: '/probe', params: { auth_module: ['kf'] } });
      expect(targets(all.postgres)).toEqual(['127.0.0.1:5501', '127.0.0.1:5502', '127.0.0.1:5503']);
      expect(all.postgres?.relabel_configs?.at(-1)).toEqual({
        target_label: '__address__',
        replacement: '127.0.0.9:9999',
      });
      expect(targets(all.rabbitmq)).toEqual(['127.0.0.1:15790', '127.0.0.1:15791', '127.0.0.1:15792']);
      expect(targets(all.redis)).toHaveLength(6);
      expect(all.redis?.relabel_configs?.at(-1)).toEqual({
        target_label: '__address__',
        replacement: '127.0.0.1:9121',
      });
    });

    it("should scrape each Patroni's REST API, labelled with its node's name, when Patroni runs PostgreSQL", () => {
      const all = jobs(loadTopology(join(TOPOLOGIES_DIR, 'test.yaml')));
      expect(all.patroni).toEqual({
        job_name: 'patroni',
        metrics_path: '/metrics',
        static_configs: [
          { targets: ['127.0.0.1:18008'], labels: { keyflow_instance: 'pg-1' } },
          { targets: ['127.0.0.1:18009'], labels: { keyflow_instance: 'pg-2' } },
          { targets: ['127.0.0.1:18010'], labels: { keyflow_instance: 'pg-3' } },
        ],
      });
      expect(Object.keys(all).indexOf('patroni')).toBe(Object.keys(all).indexOf('postgres') + 1);
    });

    it('should scrape no Patroni without database.failover, nor for CockroachDB', () => {
      expect(
        jobs(variant((x) => ({ ...x, database: { ...x.database, failover: undefined } }))).patroni,
      ).toBeUndefined();
      expect(jobs(loadTopology(join(TOPOLOGIES_DIR, 'production.yaml'))).patroni).toBeUndefined();
    });
  });

  describe('keepalived-<peer>.conf', () => {
    it('should make the highest priority peer MASTER, point each at the other and track HAProxy', () => {
      const files = renderAll(loadTopology(join(TOPOLOGIES_DIR, 'production.yaml')), paths);
      const a = file(files, 'keepalived-lb-1.conf');
      const b = file(files, 'keepalived-lb-2.conf');
      expect(a).not.toContain('nopreempt');
      expect(a).toMatch(/state MASTER\n\s+interface eth0\n\s+virtual_router_id 51\n\s+priority 150/);
      expect(b).toMatch(/state BACKUP\n\s+interface eth0\n\s+virtual_router_id 51\n\s+priority 100/);
      expect(a).toMatch(/unicast_src_ip 10\.20\.7\.11\n\s+unicast_peer \{\n\s+10\.20\.7\.12\n\s+\}/);
      expect(b).toMatch(/unicast_src_ip 10\.20\.7\.12\n\s+unicast_peer \{\n\s+10\.20\.7\.11\n\s+\}/);
      for (const conf of [a, b]) {
        expect(conf).toContain('10.20.7.10/24 dev eth0');
        expect(section(conf, 'vrrp_script chk_haproxy {')).toContain('script "/bin/pidof haproxy"');
        expect(section(conf, 'track_script {')).toContain('chk_haproxy');
      }
    });

    it('should render no keepalived config without haproxy.redundancy', () => {
      expect(renderAll(local(), paths).some((f) => f.file.startsWith('keepalived'))).toBe(false);
    });
  });

  describe('the edge pair (haproxy-edge.cfg, keepalived-edge-<peer>.conf)', () => {
    const edgeFiles = (): RenderedFile[] => renderAll(loadTopology(join(TOPOLOGIES_DIR, 'test.yaml')), paths);

    it('should terminate TLS on every address of the peer and balance over each gateway at its bridge address, checked over TLS', () => {
      const cfg = file(edgeFiles(), 'haproxy-edge.cfg');
      expect(section(cfg, 'frontend https')).toContain('bind *:18443 ssl crt /srv/keyflow/conf/edge.pem alpn http/1.1');
      const backend = section(cfg, 'backend gateways');
      expect(backend).toContain('balance roundrobin');
      expect(backend).toContain('http-check send meth GET uri /health/live ver HTTP/1.1 hdr Host api.keyflow.test');
      expect(backend).toContain(
        'default-server check inter 1s fall 2 rise 2 ssl verify required ca-file /srv/keyflow/conf/ca.crt verifyhost api.keyflow.test alpn http/1.1',
      );
      expect([...backend.matchAll(/^\s+server (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]])).toEqual([
        ['gateway-1', '198.18.78.21:18443'],
        ['gateway-2', '198.18.78.22:18443'],
        ['gateway-3', '198.18.78.23:18443'],
      ]);
      // Only requests that never reached a gateway are sent to another: a write it had may have been accepted.
      expect(cfg).toMatch(/^\s+retry-on conn-failure$/m);
      const http = cfg.slice(cfg.indexOf('frontend http\n'), cfg.indexOf('\nbackend gateways'));
      expect(http).toContain(
        'http-request redirect code 308 location https://%[req.hdr(host),field(1,:)]:18443%[capture.req.uri] unless { path_beg /health/ } || { path_beg /store }',
      );
      expect(section(cfg, 'frontend stats')).toContain('monitor-uri /healthz');
    });

    it.each([
      ['leastconn', 'balance leastconn', null],
      ['source', 'balance source', null],
      ['cookie', 'balance roundrobin', 'cookie keyflow_gw insert indirect nocache httponly secure'],
    ] as const)('should map the %s algorithm', (algorithm, balance, cookie) => {
      const t = loadTopology(join(TOPOLOGIES_DIR, 'test.yaml'));
      const edge = t.edge ? { ...t.edge, algorithm } : undefined;
      const backend = section(
        file(renderAll(parseTopology({ ...t, edge }), paths), 'haproxy-edge.cfg'),
        'backend gateways',
      );
      expect(backend).toContain(balance);
      if (cookie) {
        expect(backend).toContain(cookie);
        expect(backend).toContain('server gateway-2 198.18.78.22:18443 cookie gateway-2');
      } else {
        expect(backend).not.toContain('cookie');
      }
    });

    it("should make lb-1 MASTER, check each peer's own HAProxy on its loopback, and move the virtual IP on eth0", () => {
      const files = edgeFiles();
      const a = file(files, 'keepalived-edge-lb-1.conf');
      const b = file(files, 'keepalived-edge-lb-2.conf');
      // nopreempt: both start BACKUP, lb-1 is elected by its priority and whoever holds the address keeps it.
      expect(a).toMatch(
        /vrrp_instance keyflow_edge \{\n\s+state BACKUP\n\s+interface eth0\n\s+virtual_router_id 78\n\s+priority 150/,
      );
      for (const conf of [a, b]) expect(conf).toMatch(/^\s+nopreempt$/m);
      expect(b).toMatch(/state BACKUP\n\s+interface eth0\n\s+virtual_router_id 78\n\s+priority 100/);
      expect(a).toMatch(/unicast_src_ip 198\.18\.78\.11\n\s+unicast_peer \{\n\s+198\.18\.78\.12\n\s+\}/);
      for (const conf of [a, b]) {
        expect(conf).toContain('198.18.78.10/24 dev eth0');
        expect(section(conf, 'vrrp_script chk_haproxy {')).toContain(
          `script "/bin/bash -c '</dev/tcp/127.0.0.1/18405'"`,
        );
      }
    });

    it("should have each gateway listen on its bridge address too, trust the peers' X-Forwarded-For, and name the virtual IP in DNS", () => {
      const files = edgeFiles();
      const nginx = file(files, 'nginx.conf');
      expect(nginx).toContain(
        'listen 127.0.0.32:18443 ssl; # gateway-2\n        listen 198.18.78.22:18443 ssl; # gateway-2',
      );
      expect(nginx).toMatch(/^\s+set_real_ip_from 198\.18\.78\.11;$/m);
      expect(nginx).toMatch(/^\s+set_real_ip_from 198\.18\.78\.12;$/m);
      expect(file(files, 'keyflow.test.zone')).toMatch(/^www IN A 198\.18\.78\.10$/m);
      expect(file(files, 'prometheus.yml')).toContain("'198.18.78.11:18405'");
    });
  });
});

describe(renderGatewayConfigs.name, () => {
  it('should render one config per gateway, each listening on its own address with its own pid, logs and temp dirs', () => {
    const files = renderGatewayConfigs(local(), paths);
    expect(files.map((f) => f.file)).toEqual(['nginx-gateway-1.conf', 'nginx-gateway-2.conf', 'nginx-gateway-3.conf']);
    const conf = file(files, 'nginx-gateway-2.conf');
    expect([...conf.matchAll(/^\s+listen (\S+); # (\S+)$/gm)].map((m) => [m[1], m[2]])).toEqual([
      ['127.0.0.22:8080', 'gateway-2'],
    ]);
    expect(conf).toMatch(/^pid \/srv\/keyflow\/run\/nginx-gateway-2\.pid;$/m);
    expect(conf).toMatch(/^error_log \/srv\/keyflow\/run\/nginx-gateway-2-error\.log warn;$/m);
    expect(conf).toMatch(/^\s+access_log \/srv\/keyflow\/run\/nginx-gateway-2-access\.log /m);
    for (const m of conf.matchAll(/^\s+\w+_temp_path (\S+);$/gm)) expect(m[1]).toMatch(/-gateway-2$/);
    // Everything else is the whole tier's nginx.conf.
    const all = file(renderAll(local(), paths), 'nginx.conf');
    expect(section(conf, 'upstream keyflow_api')).toBe(section(all, 'upstream keyflow_api'));
  });

  it('should refuse a gateway the topology does not have', () => {
    expect(() => buildNginxView(local(), paths, 'gateway-9')).toThrow('no gateway "gateway-9" in topology "local"');
  });
});
