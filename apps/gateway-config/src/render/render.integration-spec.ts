import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseTopology, type LbAlgorithm, type Topology, type TopologyInput } from '@keyflow/topology';
import { pollUntil } from '@keyflow/testing';
import { httpRequest, rawHttpRequest, type HttpResponse } from '../testing/http-client.util';
import {
  canConnect,
  freePort,
  runCommand,
  stopDaemon,
  waitForPidFile,
  type CommandResult,
} from '../testing/processes.util';
import { UpstreamStub } from '../testing/upstream-stub.util';
import { tempDirs } from '../testing/temp-dir.util';
import { HAPROXY_CFG_FILE, NGINX_CONF_FILE, RUN_FILES } from './render.constant';
import { renderAll } from './render.service';
import { writeRenderedFiles } from './render-writer.util';

/** The stats page's login, as the stack or a Compose/Kubernetes secret gives it to HAProxy. */
const STATS_LOGIN_ENV = { HAPROXY_STATS_USER: 'stats', HAPROXY_STATS_PASSWORD: 'render-spec-secret' };
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const PG_BIN = '/usr/lib/postgresql/15/bin';
const RUNNING_AS_ROOT = process.getuid?.() === 0;

interface RenderedDirs {
  outDir: string;
  runDir: string;
}

const daemons: Array<{ pid: number; what: string }> = [];

const { tempDir, removeAll } = tempDirs('gateway-config');

function renderInto(topology: Topology, dir: string): RenderedDirs {
  const dirs = { outDir: join(dir, 'conf'), runDir: join(dir, 'run') };
  mkdirSync(dirs.runDir, { recursive: true, mode: 0o755 });
  writeRenderedFiles(renderAll(topology, dirs), dirs.outDir);
  return dirs;
}

function nginxArgs({ outDir, runDir }: RenderedDirs): string[] {
  return ['-p', runDir, '-c', join(outDir, NGINX_CONF_FILE), '-e', join(runDir, RUN_FILES.nginxErrorLog)];
}

async function startNginx(dirs: RenderedDirs, port: number): Promise<number> {
  const started = await runCommand('nginx', nginxArgs(dirs));
  expect(started, 'nginx should start').toMatchObject({ code: 0 });
  const pid = await waitForPidFile(join(dirs.runDir, RUN_FILES.nginxPid), 'nginx');
  daemons.push({ pid, what: 'nginx' });
  await pollUntil(() => canConnect(port), Boolean, { what: `nginx listening on ${port}` });
  return pid;
}

async function stopAllDaemons(): Promise<void> {
  const errors: unknown[] = [];
  for (const { pid, what } of daemons.splice(0)) {
    await stopDaemon(pid, what).catch((err: unknown) => errors.push(err));
  }
  if (errors.length) throw errors[0];
}

afterAll(async () => {
  await stopAllDaemons();
  removeAll();
});

/** Ports no test binds: the topology needs every section, the checks below only use some of them. */
function tinyTopology(parts: {
  gatewayPort: number;
  apiPorts: number[];
  algorithm?: LbAlgorithm;
  clientMaxBodySize?: string;
  rabbitPorts?: number[];
  haproxyPorts?: { dbWritePort: number; dbReadPort: number; amqpPort: number; statsPort: number };
  database?: TopologyInput['database'];
}): Topology {
  const input: TopologyInput = {
    name: 'tiny',
    gateway: {
      algorithm: parts.algorithm ?? 'source',
      clientMaxBodySize: parts.clientMaxBodySize ?? '64k',
      instances: [{ name: 'gateway-1', host: '127.0.0.1', port: parts.gatewayPort }],
    },
    api: { instances: parts.apiPorts.map((port, i) => ({ name: `api-${i + 1}`, host: '127.0.0.1', port })) },
    worker: { instances: [{ name: 'worker-1', host: '127.0.0.1', port: 1 }] },
    redis: { nodes: [2, 3, 4, 5, 6, 7].map((port) => ({ host: '127.0.0.1', port })) },
    rabbitmq: {
      nodes: (parts.rabbitPorts ?? [8]).map((port, i) => ({
        name: `rmq${i + 1}`,
        host: '127.0.0.1',
        port,
        managementPort: 100 + i,
        distPort: 200 + i,
      })),
    },
    database: parts.database ?? {
      kind: 'postgres',
      nodes: [
        { name: 'pg-primary', role: 'primary', host: '127.0.0.1', port: 9 },
        { name: 'pg-replica', role: 'replica', host: '127.0.0.1', port: 10 },
      ],
    },
    haproxy: {
      host: '127.0.0.1',
      ...(parts.haproxyPorts ?? { dbWritePort: 11, dbReadPort: 12, amqpPort: 13, statsPort: 14 }),
    },
  };
  return parseTopology(input);
}

function expectProblem(res: HttpResponse, status: number, title: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  const requestId = res.headers['x-request-id'];
  expect(requestId).toMatch(/^[0-9a-f]{32}$/);
  const { detail, ...problem } = JSON.parse(res.body) as Record<string, unknown>;
  expect(problem).toEqual({ type: 'about:blank', title, status, requestId });
  expect(typeof detail).toBe('string');
}

describe(renderAll.name, () => {
  describe('nginx.conf behaviour in front of two API stubs', () => {
    const stubs = [new UpstreamStub('api-1'), new UpstreamStub('api-2')];
    let gatewayPort: number;

    beforeAll(async () => {
      await Promise.all(stubs.map((s) => s.start()));
    });
    afterAll(async () => {
      await Promise.all(stubs.map((s) => s.stop()));
    });
    beforeEach(() => stubs.forEach((s) => s.reset()));
    afterEach(stopAllDaemons);

    /** A fresh gateway per test, so no test inherits another's max_fails bookkeeping. */
    async function startGateway(apiPorts = stubs.map((s) => s.port)): Promise<void> {
      gatewayPort = await freePort();
      const dirs = renderInto(tinyTopology({ gatewayPort, apiPorts }), tempDir('nginx'));
      await startNginx(dirs, gatewayPort);
    }

    /**
     * With ip_hash every request from 127.0.0.1 picks the same first upstream. Returns [first, other]; the
     * tests break `first` so that anything `other` sees got there through a retry.
     */
    async function firstChoice(): Promise<[UpstreamStub, UpstreamStub]> {
      const probe = await httpRequest(gatewayPort, { path: '/probe' });
      expect(probe.status).toBe(200);
      const first = stubs.find((s) => s.name === probe.headers['x-served-by']);
      if (!first) throw new Error(`probe served by ${String(probe.headers['x-served-by'])}`);
      stubs.forEach((s) => s.reset());
      return [first, stubs.find((s) => s !== first) as UpstreamStub];
    }

    /** A request to a fresh key under /v1/kv/, or to `path`. */
    function send(
      method: string,
      headers: Record<string, string> = {},
      body?: string,
      path?: string,
    ): Promise<HttpResponse> {
      const testId = randomUUID();
      return httpRequest(gatewayPort, {
        method,
        path: path ?? `/v1/kv/k-${testId}`,
        headers: {
          'x-test-id': testId,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body,
      });
    }

    beforeEach(async () => {
      await startGateway();
    });

    it.each([[{ kind: 'status', status: 502 }], [{ kind: 'status', status: 503 }], [{ kind: 'close' }]] as const)(
      'should fail a GET over to the other upstream when the first one answers %j',
      async (mode) => {
        const [first, other] = await firstChoice();
        first.mode = mode;
        const res = await send('GET');
        expect(res.status).toBe(200);
        expect(res.headers['x-served-by']).toBe(other.name);
        expect(first.hits).toHaveLength(1);
        expect(other.hits).toHaveLength(1);
        expect(other.hits[0]?.headers['x-test-id']).toBe(first.hits[0]?.headers['x-test-id']);
      },
    );

    it("should pass a health check's 503 on as an answer, without counting the instance as failed", async () => {
      const [first, other] = await firstChoice();
      first.mode = { kind: 'status', status: 503 };
      // More than max_fails (2) not-ready answers in a row, as load balancers polling every second would see.
      for (let i = 0; i < 4; i++) expect((await send('GET', {}, undefined, '/health/ready')).status).toBe(503);
      expect(other.hits).toHaveLength(0);
      // The instance is still in the rotation: the next request goes to it, not to the other one.
      first.reset();
      const res = await send('GET');
      expect(res.status).toBe(200);
      expect(res.headers['x-served-by']).toBe(first.name);
    });

    // The API deduplicates only PUT and DELETE /v1/kv/{key} by Idempotency-Key; it ignores the header on every
    // other write, so those must reach one instance even when the client sent a key.
    it.each([
      ['PUT', '/store', undefined],
      ['PUT', '/store', 'op-store'],
      ['DELETE', '/store/k', undefined],
      ['POST', '/v1/kv/k', undefined],
      ['PATCH', '/v1/kv/k', 'op-patch'],
      ['POST', '/v1/auth/tokens', 'op-token'],
      ['PUT', '/v1/kv/../../store', undefined],
    ] as const)(
      'should send %s %s (Idempotency-Key: %s), which the API does not deduplicate, to exactly one upstream even when it drops the connection',
      async (method, path, key) => {
        const [first, other] = await firstChoice();
        first.mode = { kind: 'close' };
        const headers: Record<string, string> = key === undefined ? {} : { 'idempotency-key': key };
        const res = await send(method, headers, method === 'DELETE' ? undefined : '{"value":"v1"}', path);
        expectProblem(res, 502, 'Bad Gateway');
        expect(first.hits.map((h) => [h.method, h.url])).toEqual([[method, path]]);
        // Only the client's own key, never one from the gateway: nothing would make a retry of these safe.
        expect(first.hits[0]?.headers['idempotency-key']).toBe(key);
        expect(other.hits).toEqual([]);
      },
    );

    it.each(['PUT', 'DELETE'])(
      'should give a %s of /v1/kv/ without Idempotency-Key the key gw-<request id> and retry it after a dropped connection',
      async (method) => {
        const [first, other] = await firstChoice();
        first.mode = { kind: 'close' };
        const body = method === 'PUT' ? '{"value":"v5"}' : undefined;
        const res = await send(method, {}, body);
        expect(res.status).toBe(200);
        expect(res.headers['x-served-by']).toBe(other.name);
        // One key for both attempts: the second instance finds the first one's claim and cannot apply it twice.
        const key = `gw-${String(res.headers['x-request-id'])}`;
        for (const hits of [first.hits, other.hits]) {
          expect(hits.map((h) => [h.method, h.body, h.headers['idempotency-key']])).toEqual([
            [method, body ?? '', key],
          ]);
        }
      },
    );

    it('should pass a /v1/watch event stream on as it comes, before the upstream ends the response', async () => {
      stubs.forEach((s) => (s.mode = { kind: 'stream' }));
      const first = await new Promise<{ status?: number; type?: string; chunk: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: gatewayPort, path: '/v1/watch?prefix=a' }, (res) => {
          res.setEncoding('utf8');
          res.once('data', (chunk: string) => {
            resolve({ status: res.statusCode, type: res.headers['content-type'], chunk });
            res.destroy();
          });
        });
        req.on('error', reject);
        req.setTimeout(5_000, () => req.destroy(new Error('no event within 5 s: the gateway buffered the stream')));
        req.end();
      });
      expect(first).toEqual({ status: 200, type: 'text/event-stream', chunk: expect.stringContaining('event: put') });
      expect(first.chunk).not.toContain('id: 2');
      stubs.forEach((s) => s.endStreams());
    });

    it('should pass an HTTP error from the upstream to the client without trying another one for a write', async () => {
      const [first, other] = await firstChoice();
      first.mode = { kind: 'status', status: 503 };
      const res = await send('PUT', {}, '{"value":"v1"}');
      expect(res.status).toBe(503);
      expect(res.body).toBe(`${first.name} says 503`);
      expect(other.hits).toEqual([]);
    });

    it('should deliver a PUT body intact through the named write location, with the forwarding headers', async () => {
      // Larger than nginx's in-memory body buffer, so it travels through the client body temp dir too.
      const body = JSON.stringify({ value: randomBytes(20_000).toString('hex') });
      const res = await send('PUT', {}, body);
      expect(res.status).toBe(200);
      const [hit, ...more] = stubs.flatMap((s) => s.hits);
      expect(more).toEqual([]);
      expect(hit?.method).toBe('PUT');
      expect(hit?.body).toBe(body);
      expect(hit?.headers).toMatchObject({
        'content-type': 'application/json',
        'content-length': String(body.length),
        host: `127.0.0.1:${gatewayPort}`,
        'x-request-id': res.headers['x-request-id'],
        'x-real-ip': '127.0.0.1',
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'idempotency-key': `gw-${String(res.headers['x-request-id'])}`,
      });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    });

    it('should retry a PUT with an Idempotency-Key on another upstream after a dropped connection', async () => {
      const [first, other] = await firstChoice();
      first.mode = { kind: 'close' };
      const body = '{"value":"v2"}';
      const res = await send('PUT', { 'idempotency-key': 'op-123' }, body);
      expect(res.status).toBe(200);
      expect(res.headers['x-served-by']).toBe(other.name);
      for (const hits of [first.hits, other.hits]) {
        expect(hits.map((h) => [h.method, h.body, h.headers['idempotency-key']])).toEqual([['PUT', body, 'op-123']]);
      }
    });

    it('should not retry a PUT with an Idempotency-Key when the upstream answers with an HTTP error', async () => {
      const [first, other] = await firstChoice();
      first.mode = { kind: 'status', status: 502 };
      const res = await send('PUT', { 'idempotency-key': 'op-456' }, '{"value":"v3"}');
      expect(res.status).toBe(502);
      expect(res.body).toBe(`${first.name} says 502`);
      expect(other.hits).toEqual([]);
    });

    it.each(['/metrics', '/internal/', '/internal/drain', '/metrics?format=prometheus'])(
      'should answer 404 problem+json for %s without asking an upstream',
      async (path) => {
        const res = await httpRequest(gatewayPort, { path });
        expectProblem(res, 404, 'Not Found');
        expect(stubs.flatMap((s) => s.hits)).toEqual([]);
      },
    );

    it('should answer 413 problem+json for a body over client_max_body_size without asking an upstream', async () => {
      const res = await send('PUT', {}, JSON.stringify({ value: 'x'.repeat(100 * 1024) }));
      expectProblem(res, 413, 'Content Too Large');
      expect(stubs.flatMap((s) => s.hits)).toEqual([]);
    });

    it('should let a bulk write (POST /v1/kv) through up to 8m, to one upstream only, and answer 413 above', async () => {
      const [first, other] = await firstChoice();
      const body = JSON.stringify({ operations: [{ op: 'put', key: 'k', value: 'x'.repeat(7 * 1024 * 1024) }] });
      const res = await send('POST', {}, body, '/v1/kv');
      expect(res.status).toBe(200);
      expect(first.hits).toHaveLength(1);
      expect(first.hits[0]?.method).toBe('POST');

      // A bulk write is not retried on another instance: the gateway gives it no key of its own.
      stubs.forEach((s) => s.reset());
      first.mode = { kind: 'close' };
      expectProblem(await send('POST', {}, '{"operations":[]}', '/v1/kv'), 502, 'Bad Gateway');
      expect(first.hits).toHaveLength(1);
      expect(other.hits).toHaveLength(0);
      // Reads of the listing are retried like any read.
      stubs.forEach((s) => s.reset());
      first.mode = { kind: 'close' };
      const list = await send('GET', {}, undefined, '/v1/kv?prefix=a');
      expect(list.status).toBe(200);
      expect(other.hits).toHaveLength(1);

      stubs.forEach((s) => s.reset());
      const tooBig = await send('POST', {}, 'x'.repeat(8 * 1024 * 1024 + 1), '/v1/kv');
      expectProblem(tooBig, 413, 'Content Too Large');
      expect(JSON.parse(tooBig.body)).toMatchObject({
        detail: 'The request body exceeds the gateway limit of 64k (8m for bulk writes, POST /v1/kv).',
      });
      // Every other route keeps the topology's limit.
      expectProblem(await send('POST', {}, 'x'.repeat(100 * 1024), '/v1/kv/k'), 413, 'Content Too Large');
      expect(stubs.flatMap((s) => s.hits)).toEqual([]);
    });

    it.each([
      ['GET', '/v1/kv/k', 2],
      ['PUT', '/v1/kv/k', 2],
      ['PUT', '/store', 1],
    ] as const)('should answer 502 problem+json to %s %s when every upstream drops it', async (method, path, tries) => {
      stubs.forEach((s) => (s.mode = { kind: 'close' }));
      const res = await send(method, {}, method === 'PUT' ? '{"value":"v4"}' : undefined, path);
      expectProblem(res, 502, 'Bad Gateway');
      expect(stubs.flatMap((s) => s.hits)).toHaveLength(tries);
    });

    // Errors nginx finds before it chooses a location (request line, headers) or while it reads the body. A named
    // location cannot take the ones found before the URI is parsed: nginx answered those 500 text/html.
    it.each([
      ['a request line that is not HTTP', 'not http at all\r\n\r\n', 400, 'Bad Request'],
      ['a URL with a bad percent-encoding', 'GET /v1/kv/%zz HTTP/1.1\r\nHost: gw\r\n\r\n', 400, 'Bad Request'],
      ['a path above the root', 'PUT /../v1/kv/a HTTP/1.1\r\nHost: gw\r\n\r\n', 400, 'Bad Request'],
      ['an HTTP/1.1 request without Host', 'GET /v1/kv/a HTTP/1.1\r\n\r\n', 400, 'Bad Request'],
      [
        'a malformed chunked body',
        'PUT /v1/kv/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
        400,
        'Bad Request',
      ],
      ['a URI over 8k', `GET /v1/kv/${'a'.repeat(9_000)} HTTP/1.1\r\nHost: gw\r\n\r\n`, 414, 'URI Too Long'],
      [
        'a header line over 8k',
        `GET /v1/kv/a HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(9_000)}\r\n\r\n`,
        431,
        'Request Header Fields Too Large',
      ],
      [
        'headers over four 8k buffers together',
        `GET /v1/kv/a HTTP/1.1\r\nHost: gw\r\n${[1, 2, 3, 4, 5].map((i) => `X-${i}: ${'a'.repeat(7_000)}\r\n`).join('')}\r\n`,
        431,
        'Request Header Fields Too Large',
      ],
      [
        'an unknown Transfer-Encoding',
        'PUT /v1/kv/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip\r\n\r\n',
        501,
        'Not Implemented',
      ],
      ['HTTP/2.0 on an HTTP/1 port', 'GET /v1/kv/a HTTP/2.0\r\nHost: gw\r\n\r\n', 505, 'HTTP Version Not Supported'],
    ] as const)(
      'should answer %s with a problem document and ask no upstream',
      async (_what, request, status, title) => {
        const res = await rawHttpRequest(gatewayPort, request);
        expectProblem(res, status, title);
        expect(stubs.flatMap((s) => s.hits)).toEqual([]);
      },
    );

    it("should answer 404 problem+json when a client asks for the gateway's own problem pages", async () => {
      const res = await httpRequest(gatewayPort, { path: '/_gateway/problem/502' });
      expectProblem(res, 404, 'Not Found');
      expect(stubs.flatMap((s) => s.hits)).toEqual([]);
    });

    it('should answer 502 problem+json when no upstream is listening at all', async () => {
      await stopAllDaemons();
      await startGateway([await freePort(), await freePort()]);
      for (const method of ['GET', 'PUT', 'GET', 'DELETE']) {
        expectProblem(await send(method, {}, method === 'PUT' ? '{}' : undefined), 502, 'Bad Gateway');
      }
    });
  });

  describe('haproxy.cfg behaviour', () => {
    const echoServers: Server[] = [];
    let ports: { dbWritePort: number; dbReadPort: number; amqpPort: number; statsPort: number };

    beforeAll(async () => {
      for (let i = 0; i < 2; i++) {
        const server = createServer((socket) => socket.pipe(socket));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        echoServers.push(server);
      }
      ports = {
        dbWritePort: await freePort(),
        dbReadPort: await freePort(),
        amqpPort: await freePort(),
        statsPort: await freePort(),
      };
      const rabbitPorts = echoServers.map((s) => (s.address() as { port: number }).port);
      const dirs = renderInto(
        tinyTopology({ gatewayPort: 15, apiPorts: [16], rabbitPorts, haproxyPorts: ports }),
        tempDir('haproxy'),
      );
      const started = await runCommand('haproxy', ['-D', '-f', join(dirs.outDir, HAPROXY_CFG_FILE)], {
        env: { ...process.env, ...STATS_LOGIN_ENV },
      });
      expect(started).toMatchObject({ code: 0 });
      const pid = await waitForPidFile(join(dirs.runDir, RUN_FILES.haproxyPid), 'haproxy');
      daemons.push({ pid, what: 'haproxy' });
      await pollUntil(() => canConnect(ports.statsPort), Boolean, { what: 'haproxy stats port' });
    });
    afterAll(async () => {
      await stopAllDaemons();
      for (const server of echoServers) server.close();
    });

    it('should carry AMQP connections to a RabbitMQ node', async () => {
      const echoed = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: ports.amqpPort }, () => socket.write('AMQP\x00\x00\x09\x01'));
        socket.once('data', (data) => {
          socket.destroy();
          resolve(data.toString('latin1'));
        });
        socket.once('error', reject);
      });
      expect(echoed).toBe('AMQP\x00\x00\x09\x01');
    });

    it('should serve Prometheus metrics, and the stats page only with its login', async () => {
      const metrics = await httpRequest(ports.statsPort, { path: '/metrics' });
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('haproxy_process_');
      expect(metrics.body).toMatch(/haproxy_backend_status\{proxy="amqp",state="UP"\} 1/);
      const anonymous = await httpRequest(ports.statsPort, { path: '/stats' });
      expect(anonymous.status).toBe(401);
      const wrong = await httpRequest(ports.statsPort, {
        path: '/stats',
        headers: { authorization: basic('stats', 'x') },
      });
      expect(wrong.status).toBe(401);
      const login = basic(STATS_LOGIN_ENV.HAPROXY_STATS_USER, STATS_LOGIN_ENV.HAPROXY_STATS_PASSWORD);
      const stats = await httpRequest(ports.statsPort, { path: '/stats', headers: { authorization: login } });
      expect(stats.status).toBe(200);
      expect(stats.headers['content-type']).toContain('text/html');
    });

    it('should keep postgres writes away from nodes that fail the primary check', async () => {
      // Nothing listens on the tiny topology's database ports, so the primary check fails for both nodes.
      const metrics = await pollUntil(
        () => httpRequest(ports.statsPort, { path: '/metrics' }),
        (res) => /haproxy_backend_status\{proxy="db_write",state="DOWN"\} 1/.test(res.body),
        { timeoutMs: 10_000, what: 'db_write to go down' },
      );
      expect(metrics.status).toBe(200);
    });
  });

  describe.skipIf(!existsSync(join(PG_BIN, 'initdb')))('haproxy.cfg with a real PostgreSQL primary and replica', () => {
    let dir: string;
    let ports: { primary: number; replica: number; dbWritePort: number; dbReadPort: number; statsPort: number };
    const dataDir = (node: 'primary' | 'replica'): string => join(dir, 'pg', node);

    /** PostgreSQL refuses to run as root: run its binaries as the postgres user when the tests are root. */
    function pg(binary: string, args: string[]): Promise<CommandResult> {
      return RUNNING_AS_ROOT
        ? runCommand('runuser', ['-u', 'postgres', '--', join(PG_BIN, binary), ...args])
        : runCommand(join(PG_BIN, binary), args);
    }

    async function startPostgres(node: 'primary' | 'replica', port: number): Promise<void> {
      const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${join(dir, 'pg')}`;
      const started = await pg('pg_ctl', [
        '-D',
        dataDir(node),
        '-o',
        options,
        '-l',
        join(dir, 'pg', `${node}.log`),
        '-w',
        'start',
      ]);
      expect(started, `postgres ${node} should start`).toMatchObject({ code: 0 });
    }

    /** Asks whichever server HAProxy picks for `port` whether it is a standby, and which port it really is. */
    async function askThrough(port: number): Promise<string> {
      const res = await runCommand('psql', [
        '-X',
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'keyflow',
        '-d',
        'postgres',
        '-tAc',
        "select pg_is_in_recovery()::text || ' ' || inet_server_port()",
      ]);
      if (res.code !== 0) throw new Error(res.stderr);
      return res.stdout.trim();
    }

    beforeAll(async () => {
      dir = tempDir('pg');
      mkdirSync(join(dir, 'pg'), { mode: 0o700 });
      if (RUNNING_AS_ROOT)
        expect(await runCommand('chown', ['postgres:postgres', join(dir, 'pg')])).toMatchObject({ code: 0 });
      ports = {
        primary: await freePort(),
        replica: await freePort(),
        dbWritePort: await freePort(),
        dbReadPort: await freePort(),
        statsPort: await freePort(),
      };
      const init = await pg('initdb', [
        '-D',
        dataDir('primary'),
        ...'-U keyflow --auth=trust -E UTF8 --locale=C.UTF-8'.split(' '),
      ]);
      expect(init, 'initdb').toMatchObject({ code: 0 });
      await startPostgres('primary', ports.primary);
      const backup = await pg('pg_basebackup', [
        ...['-h', '127.0.0.1', '-p', String(ports.primary), '-U', 'keyflow', '-D', dataDir('replica')],
        ...'-R -X stream -c fast'.split(' '),
      ]);
      expect(backup, 'pg_basebackup').toMatchObject({ code: 0 });
      await startPostgres('replica', ports.replica);

      const topology = tinyTopology({
        gatewayPort: 15,
        apiPorts: [16],
        haproxyPorts: {
          dbWritePort: ports.dbWritePort,
          dbReadPort: ports.dbReadPort,
          amqpPort: await freePort(),
          statsPort: ports.statsPort,
        },
        database: {
          kind: 'postgres',
          name: 'postgres',
          user: 'keyflow',
          nodes: [
            { name: 'pg-primary', role: 'primary', host: '127.0.0.1', port: ports.primary },
            { name: 'pg-replica', role: 'replica', host: '127.0.0.1', port: ports.replica },
          ],
        },
      });
      const dirs = renderInto(topology, dir);
      const env = { ...process.env, ...STATS_LOGIN_ENV };
      expect(await runCommand('haproxy', ['-D', '-f', join(dirs.outDir, HAPROXY_CFG_FILE)], { env })).toMatchObject({
        code: 0,
      });
      daemons.push({ pid: await waitForPidFile(join(dirs.runDir, RUN_FILES.haproxyPid), 'haproxy'), what: 'haproxy' });
    });

    afterAll(async () => {
      await stopAllDaemons();
      for (const node of ['replica', 'primary'] as const) {
        if (existsSync(join(dataDir(node), 'postmaster.pid')))
          await pg('pg_ctl', ['-D', dataDir(node), '-m', 'immediate', 'stop']);
      }
    });

    function serverUp(metrics: string, proxy: string, server: string): boolean {
      return new RegExp(`haproxy_server_status\\{proxy="${proxy}",server="${server}",state="UP"\\} 1`).test(metrics);
    }

    async function waitForServers(expected: Record<string, boolean>): Promise<void> {
      await pollUntil(
        () => httpRequest(ports.statsPort, { path: '/metrics' }).then((r) => r.body),
        (metrics) => Object.entries(expected).every(([key, up]) => serverUp(metrics, 'db_write', key) === up),
        { timeoutMs: 20_000, what: `db_write servers ${JSON.stringify(expected)}` },
      );
    }

    it('should send writes to the primary and reads to the replica', async () => {
      await waitForServers({ 'pg-primary': true, 'pg-replica': false });
      expect(await askThrough(ports.dbWritePort)).toBe(`false ${ports.primary}`);
      expect(await askThrough(ports.dbReadPort)).toBe(`true ${ports.replica}`);
    });

    it('should move writes to the promoted replica when the primary goes away', async () => {
      expect(await pg('pg_ctl', ['-D', dataDir('primary'), '-m', 'fast', 'stop'])).toMatchObject({ code: 0 });
      expect(await pg('pg_ctl', ['-D', dataDir('replica'), '-w', 'promote'])).toMatchObject({ code: 0 });
      await waitForServers({ 'pg-primary': false, 'pg-replica': true });
      expect(await askThrough(ports.dbWritePort)).toBe(`false ${ports.replica}`);
      // The old primary is down, so reads go to the only node up: the promoted replica.
      expect(await askThrough(ports.dbReadPort)).toBe(`false ${ports.replica}`);
    });
  });
});
