import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, type Topology, type TopologyInput } from '@keyflow/topology';
import { renderAll, type RenderedFile } from './render.service';

const TOPOLOGIES_DIR = join(__dirname, '../../../../deploy/topologies');
const paths = { runDir: '/srv/keyflow/run', outDir: '/srv/keyflow/conf' };
const local = (): Topology => loadTopology(join(TOPOLOGIES_DIR, 'local.yaml'));

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

function file(files: RenderedFile[], name: string): string {
  const found = files.find((f) => f.file === name);
  if (!found) throw new Error(`${name} was not rendered`);
  return found.content;
}

/** The text of one `{ … }` block (or HAProxy section) starting at the line that begins with `header`. */
function section(content: string, header: string): string {
  const start = content.indexOf(header);
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
        ['pg-primary-check.sh', 0o755],
      ]);
    });

    it('should render the cockroach variant as in the snapshot', () => {
      const files = renderAll(variant(cockroach), paths);
      expect(files.map((f) => f.file)).toEqual(['nginx.conf', 'haproxy.cfg']);
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

    it('should never retry a write without an Idempotency-Key on another upstream', () => {
      const write = section(nginx(), 'location @write {');
      expect(write).toContain('proxy_next_upstream off;');
      expect(write).toContain('error_page 418 = @write_idempotent;');
      expect(write).toMatch(/if \(\$http_idempotency_key != ""\) \{\s+return 418;\s+\}/);
      expect(write).not.toMatch(/proxy_next_upstream (?!off)/);
    });

    it('should retry a write with an Idempotency-Key only on connection errors and timeouts', () => {
      const idempotent = section(nginx(), 'location @write_idempotent {');
      expect(idempotent).toContain('proxy_next_upstream error timeout non_idempotent;');
      expect(idempotent).not.toContain('http_50');
    });

    it('should keep problem pages working after the 418 hops', () => {
      const server = section(nginx(), 'server {');
      expect(server).toContain('recursive_error_pages on;');
      for (const header of ['location / {', 'location @write {', 'location @write_idempotent {']) {
        for (const status of [413, 502, 503, 504]) {
          expect(section(server, header)).toContain(`error_page ${status} @problem_${status};`);
        }
      }
    });

    it('should answer gateway errors and hidden paths with problem+json bodies', () => {
      const conf = nginx();
      for (const [status, title] of [
        [413, 'Content Too Large'],
        [502, 'Bad Gateway'],
        [503, 'Service Unavailable'],
        [504, 'Gateway Timeout'],
      ] as const) {
        const page = section(conf, `location @problem_${status} {`);
        expect(page).toContain('default_type application/problem+json;');
        const body = /return (\d+) '(.*)';/.exec(page);
        expect(body?.[1]).toBe(String(status));
        expect(JSON.parse(body?.[2] ?? '')).toMatchObject({ type: 'about:blank', title, status });
      }
      for (const header of ['location = /metrics {', 'location ^~ /internal/ {']) {
        expect(section(conf, header)).toMatch(/return 404 '\{"type":"about:blank","title":"Not Found","status":404,/);
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
      expect(conf).toMatch(/^daemon on;$/m);
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
        'proxy_set_header X-Forwarded-Proto $scheme;',
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
      expect(nginx()).toContain('access_log /srv/keyflow/run/nginx-access.log combined buffer=64k flush=1s;');
      const quiet = nginx(
        variant((t) => ({ ...t, gateway: { ...t.gateway, clientMaxBodySize: '64k', accessLog: false } })),
      );
      expect(quiet).toContain('client_max_body_size 64k;');
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

    it('should send postgres writes only to the node its check script finds to be the primary', () => {
      const conf = haproxy();
      expect(section(conf, 'global')).toMatch(/external-check\n\s+insecure-fork-wanted/);
      const write = section(conf, 'listen db_write');
      expect(write).toContain('bind 127.0.0.1:6501');
      expect(write).toContain('option external-check');
      expect(write).toContain('external-check path "/usr/bin:/bin"');
      expect(write).toContain('external-check command /srv/keyflow/conf/pg-primary-check.sh');
      expect(write).toContain('default-server check inter 1s fall 2 rise 1 on-marked-down shutdown-sessions');
      expect(write).toMatch(/server pg-primary 127\.0\.0\.1:5501\n\s+server pg-replica-1 127\.0\.0\.1:5502/);
    });

    it('should send postgres reads to replicas and fall back to the primary', () => {
      const read = section(haproxy(), 'listen db_read');
      expect(read).toContain('bind 127.0.0.1:6502');
      expect(read).toMatch(/^\s+server pg-replica-1 127\.0\.0\.1:5502$/m);
      expect(read).toMatch(/^\s+server pg-primary 127\.0\.0\.1:5501 backup$/m);
    });

    it('should check every cockroach node on /health?ready=1 at its HTTP port', () => {
      const conf = haproxy(variant(cockroach));
      expect(conf).not.toContain('external-check');
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

  describe('pg-primary-check.sh', () => {
    it('should ask the server HAProxy names whether it is in recovery, as the topology database user', () => {
      const script = file(
        renderAll(
          variant((t) => ({ ...t, database: { ...t.database, name: 'kf_db', user: 'kf_user' } })),
          paths,
        ),
        'pg-primary-check.sh',
      );
      expect(script.startsWith('#!/bin/sh\n')).toBe(true);
      expect(script).toContain('PGCONNECT_TIMEOUT=1');
      expect(script).toContain(`psql -X -h "$3" -p "$4" -U kf_user -d kf_db -tAc 'select pg_is_in_recovery()'`);
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
});
