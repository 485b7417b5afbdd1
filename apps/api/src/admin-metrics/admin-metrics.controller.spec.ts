import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenOwner } from '@keyflow/db';
import { TokenCache } from '@keyflow/session';
import { problem } from '../../e2e/problem.util';
import { generateApiToken, hashApiToken } from '../auth/credentials.util';
import { loadApiConfig } from '../config/api.config';
import { fakeInfrastructure } from '../testing/fake-infrastructure';
import { createApiTestingApp } from '../testing/testing-app.util';
import { AdminMetricsController } from './admin-metrics.controller';
import { METRICS_PANELS } from './admin-metrics.constant';
import { MetricsUnavailableError } from './admin-metrics.exception';
import { AdminMetricsService } from './admin-metrics.service';

/**
 * The route through the API's real module graph (guard, validation pipe, problem filter), against a stand-in
 * Prometheus: an HTTP server answering `query_range` as Prometheus does, recording what it was asked.
 */
interface Asked {
  query: string;
  start: string;
  end: string;
  step: string;
}

let prometheus: Server;
let asked: Asked[] = [];
let answer: (query: string) => { status: number; body: unknown } = () => ({ status: 200, body: {} });

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

const owner = (role: 'user' | 'admin'): TokenOwner => ({
  tokenId: role === 'admin' ? '1f1c2b4a-8d6e-4f70-9a1b-2c3d4e5f6a7b' : '2f1c2b4a-8d6e-4f70-9a1b-2c3d4e5f6a7b',
  userId: role === 'admin' ? '1e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b' : '2e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b',
  username: role,
  role,
  userGrants: [{ prefix: '', access: 'write' }],
  tokenGrants: null,
});
const adminToken = generateApiToken();
const userToken = generateApiToken();
let app: NestFastifyApplication;

beforeAll(async () => {
  prometheus = createServer((req, res) => {
    void readBody(req).then((body) => {
      const params = new URLSearchParams(body);
      const query = params.get('query') ?? '';
      asked.push({
        query,
        start: params.get('start') ?? '',
        end: params.get('end') ?? '',
        step: params.get('step') ?? '',
      });
      const { status, body: out } =
        req.url === '/api/v1/query_range' && req.method === 'POST' ? answer(query) : { status: 404, body: {} };
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
  const config = loadApiConfig({
    KEYFLOW_INSTANCE: 'api-metrics-test',
    AMQP_URL: 'amqp://broker.invalid',
    REDIS_NODES: 'redis.invalid:6379',
    DATABASE_URL: 'postgres://db.invalid/keyflow',
    LOG_LEVEL: 'error',
    PROMETHEUS_URL: `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}/`,
  });
  app = await createApiTestingApp(config, fakeInfrastructure());
  await app.get<TokenCache<TokenOwner>>(TokenCache).fill(hashApiToken(adminToken), owner('admin'));
  await app.get<TokenCache<TokenOwner>>(TokenCache).fill(hashApiToken(userToken), owner('user'));
});

afterAll(async () => {
  await app?.close();
  await new Promise((resolve) => prometheus?.close(resolve));
});

beforeEach(() => {
  asked = [];
  answer = (query) => ({
    status: 200,
    body: {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: query.startsWith('sum by (job)')
          ? [
              {
                metric: { job: 'redis' },
                values: [
                  [1_000, '6'],
                  [1_015, '5'],
                ],
              },
              { metric: { job: 'keyflow-api' }, values: [[1_000, '2']] },
            ]
          : [],
      },
    },
  });
});

function get(url: string, token = adminToken) {
  return app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
}

describe(AdminMetricsController.name, () => {
  describe('GET /v1/admin/metrics', () => {
    it('should answer every panel, each from one query_range over the last 15 minutes in 15 s steps', async () => {
      const before = Math.floor(Date.now() / 15_000) * 15;
      const r = await get('/v1/admin/metrics');
      expect(r.statusCode).toBe(200);
      const body = r.json<{ window: string; start: string; end: string; stepSeconds: number; panels: unknown[] }>();
      expect(body).toMatchObject({ window: '15m', stepSeconds: 15 });
      expect(Date.parse(body.end) - Date.parse(body.start)).toBe(900_000);
      expect(body.panels).toHaveLength(METRICS_PANELS.length);
      expect(body.panels.at(-1)).toEqual({
        name: 'instancesUp',
        title: 'Instances up',
        unit: 'instances',
        description: expect.any(String),
        series: [
          { label: 'keyflow-api', points: [{ t: 1_000, v: 2 }] },
          {
            label: 'redis',
            points: [
              { t: 1_000, v: 6 },
              { t: 1_015, v: 5 },
            ],
          },
        ],
      });
      expect(body.panels[0]).toMatchObject({ name: 'requestRate', unit: 'req/s', series: [] });
      expect(asked.map((a) => a.query).sort()).toEqual(METRICS_PANELS.map((p) => p.query('60s')).sort());
      for (const a of asked) {
        expect(a.step).toBe('15s');
        expect(Number(a.end) - Number(a.start)).toBe(900);
        expect(Number(a.end)).toBeGreaterThanOrEqual(before);
      }
    });

    it('should take a longer window with coarser steps', async () => {
      const r = await get('/v1/admin/metrics?window=6h');
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({ window: '6h', stepSeconds: 360 });
      expect(asked.every((a) => a.step === '360s')).toBe(true);
      expect(asked.find((a) => a.query.startsWith('sum by (keyflow_instance)'))?.query).toContain('[360s]');
    });

    it('should refuse a window it does not offer, or any other parameter (a query), with 400 before asking Prometheus', async () => {
      for (const url of ['/v1/admin/metrics?window=2d', '/v1/admin/metrics?query=up', '/v1/admin/metrics?window=']) {
        const r = await get(url);
        expect(r.statusCode, url).toBe(400);
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(r.json(), url).toMatchObject({ status: 400, type: 'https://keyflow.dev/problems/invalid-request' });
      }
      expect((await get('/v1/admin/metrics?window=2d')).json()).toEqual({
        ...problem(
          400,
          'invalid-request',
          'Invalid request',
          'window must be one of the following values: 15m, 1h, 6h',
          '/v1/admin/metrics',
        ),
        errors: ['window must be one of the following values: 15m, 1h, 6h'],
      });
      expect((await get('/v1/admin/metrics?query=up')).json()).toMatchObject({
        detail: 'property query should not exist',
      });
      expect(asked).toEqual([]);
    });

    it('should refuse a user who is not an admin with 403, and no credentials with 401', async () => {
      expect((await get('/v1/admin/metrics', userToken)).statusCode).toBe(403);
      expect((await app.inject({ method: 'GET', url: '/v1/admin/metrics' })).statusCode).toBe(401);
      expect(asked).toEqual([]);
    });

    it('should answer 503 problem+json, never 500, when Prometheus fails a query', async () => {
      answer = () => ({ status: 422, body: { status: 'error', errorType: 'execution', error: 'query timed out' } });
      const r = await get('/v1/admin/metrics');
      expect(r.statusCode).toBe(503);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toEqual({
        ...problem(503, '', 'Service unavailable', 'Prometheus answered 422: query timed out', '/v1/admin/metrics'),
        type: 'about:blank',
      });
    });
  });
});

describe(AdminMetricsService.name, () => {
  const base = {
    KEYFLOW_INSTANCE: 'api-metrics-test',
    AMQP_URL: 'amqp://broker.invalid',
    REDIS_NODES: 'redis.invalid:6379',
    DATABASE_URL: 'postgres://db.invalid/keyflow',
  };

  describe('panels', () => {
    it('should say metrics are not configured when the API has no PROMETHEUS_URL', async () => {
      const service = new AdminMetricsService(loadApiConfig(base));
      await expect(service.panels('15m')).rejects.toEqual(
        new MetricsUnavailableError('not-configured', 'metrics not configured: this API was given no PROMETHEUS_URL'),
      );
    });

    it('should say Prometheus did not answer when nothing listens at its URL', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const service = new AdminMetricsService(loadApiConfig({ ...base, PROMETHEUS_URL: `http://127.0.0.1:${port}` }));
      await expect(service.panels('15m')).rejects.toMatchObject({
        reason: 'unavailable',
        message: expect.stringMatching(/^Prometheus did not answer: .*ECONNREFUSED/),
      });
    });
  });
});
