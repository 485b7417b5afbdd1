import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, type Topology } from '@keyflow/topology';
import { pollUntil } from '@keyflow/testing';
import { ensureSelfSignedCert } from '../cli/self-signed-cert.util';
import { httpRequest, rawHttpRequest, type HttpResponse } from '../testing/http-client.util';
import { canConnect, freePort, runCommand, stopDaemon, waitForPidFile } from '../testing/processes.util';
import { UpstreamStub } from '../testing/upstream-stub.util';
import { NGINX_CONF_FILE, RUN_FILES } from './render.constant';
import { renderAll } from './render.service';
import { writeRenderedFiles } from './render-writer.util';

const TOPOLOGIES_DIR = join(__dirname, '../../../../deploy/topologies');

/** A real nginx rendered with TLS (self-signed, made by the CLI's helper), an HTTP redirect port and a rate limit. */
describe('nginx.conf with TLS termination and a rate limit', () => {
  const stub = new UpstreamStub('api-1');
  let dir: string;
  let ca: string;
  let httpsPort: number;
  let redirectPort: number;
  let pid: number | undefined;

  function topology(): Topology {
    // One gateway on loopback: local.yaml's edge pair (one bridge address per gateway) is not part of this test.
    const { edge: _edge, ...local } = loadTopology(join(TOPOLOGIES_DIR, 'local.yaml'));
    return parseTopology({
      ...local,
      gateway: {
        ...local.gateway,
        daemon: true,
        tls: { mode: 'self-signed', redirectHttpPort: redirectPort },
        rateLimit: { requestsPerSecond: 1, burst: 2 },
        instances: [{ name: 'gateway-1', host: '127.0.0.1', port: httpsPort }],
      },
      api: { instances: [{ name: 'api-1', host: '127.0.0.1', port: stub.port }] },
    });
  }

  // nginx counts requests per client address: each test is another client (its own loopback source address), so
  // no test spends another's burst and none has to wait for the bucket to drain.
  let client = 0;
  let clientAddress = '';
  const get = (path: string): Promise<HttpResponse> =>
    httpRequest(httpsPort, { path, ca, servername: 'localhost', localAddress: clientAddress });

  beforeAll(async () => {
    await stub.start();
    httpsPort = await freePort();
    redirectPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'gateway-config-edge-'));
    chmodSync(dir, 0o755);
    const outDir = join(dir, 'conf');
    const runDir = join(dir, 'run');
    mkdirSync(runDir, { recursive: true, mode: 0o755 });
    const t = topology();
    writeRenderedFiles(renderAll(t, { outDir, runDir }), outDir);
    ca = readFileSync(ensureSelfSignedCert(t, outDir).certFile, 'utf8');
    const args = ['-p', runDir, '-c', join(outDir, NGINX_CONF_FILE), '-e', join(runDir, RUN_FILES.nginxErrorLog)];
    expect(await runCommand('nginx', args), 'nginx should start').toMatchObject({ code: 0 });
    pid = await waitForPidFile(join(runDir, RUN_FILES.nginxPid), 'nginx');
    await pollUntil(() => canConnect(httpsPort), Boolean, { what: `nginx on ${httpsPort}` });
  });

  afterAll(async () => {
    if (pid !== undefined) await stopDaemon(pid, 'nginx');
    await stub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    stub.reset();
    clientAddress = `127.0.3.${++client}`;
  });

  it('should terminate TLS with the generated certificate and tell the API the scheme was https', async () => {
    const res = await get('/v1/kv/a');
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(stub.hits[0]?.headers).toMatchObject({ 'x-forwarded-proto': 'https', 'x-real-ip': clientAddress });
  });

  it('should redirect plain HTTP to HTTPS with 308, keeping the path', async () => {
    const res = await httpRequest(redirectPort, {
      path: '/v1/kv/a?x=1',
      headers: { host: 'localhost' },
      localAddress: clientAddress,
    });
    expect(res.status).toBe(308);
    expect(res.headers.location).toBe(`https://localhost:${httpsPort}/v1/kv/a?x=1`);
    expect(stub.hits).toEqual([]);
  });

  it('should serve health checks and the /store routes over plain HTTP instead of redirecting them', async () => {
    const plain = (path: string, method = 'GET'): Promise<HttpResponse> =>
      httpRequest(redirectPort, { path, method, headers: { host: 'localhost' }, localAddress: clientAddress });
    expect((await plain('/health/ready')).status).toBe(200);
    expect((await plain('/store/k')).status).toBe(200);
    expect((await plain('/store', 'PUT')).status).toBe(200);
    expect((await plain('/healthz')).status).toBe(308);
    expect(stub.hits.map((h) => [h.method, h.url, h.headers['x-forwarded-proto']])).toEqual([
      ['GET', '/health/ready', 'http'],
      ['GET', '/store/k', 'http'],
      ['PUT', '/store', 'http'],
    ]);
  });

  it('should answer plain HTTP sent to the HTTPS port with a 400 problem document', async () => {
    const res = await httpRequest(httpsPort, { path: '/v1/kv/a', localAddress: clientAddress });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      requestId: res.headers['x-request-id'],
    });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(stub.hits).toEqual([]);
  });

  it('should answer a malformed request on the redirect port with a 400 problem document, not a redirect', async () => {
    const res = await rawHttpRequest(redirectPort, 'GET /v1/kv/%zz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(res.body)).toMatchObject({
      title: 'Bad Request',
      status: 400,
      requestId: res.headers['x-request-id'],
    });
  });

  it('should answer 429 problem+json with Retry-After once a client exceeds rate and burst', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => get('/v1/kv/a')));
    const limited = answers.filter((r) => r.status === 429);
    expect(answers.filter((r) => r.status === 200).length).toBeLessThanOrEqual(3);
    expect(limited.length).toBeGreaterThanOrEqual(5);
    const [first] = limited;
    expect(first?.headers['content-type']).toBe('application/problem+json');
    expect(first?.headers['retry-after']).toBe('1');
    expect(first?.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(first?.body ?? '{}')).toMatchObject({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      requestId: first?.headers['x-request-id'],
    });
    expect(stub.hits.length).toBe(answers.length - limited.length);
  });
});
