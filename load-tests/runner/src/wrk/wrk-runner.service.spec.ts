import { spawnSync } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFakeKeyflow } from '../testing/fake-keyflow.server';
import { WRK_SCRIPT_DIR } from './wrk-command.util';
import { WrkRunner, WrkUnavailableError } from './wrk-runner.service';

const hasWrk = spawnSync('wrk', ['-v']).error === undefined;

describe(WrkRunner.name, () => {
  const token = 'wrk-token';
  const runner = new WrkRunner(WRK_SCRIPT_DIR);
  let app: FastifyInstance;
  let target: string;
  const spec = { connections: 4, threads: 2, durationS: 1, timeoutS: 5, token };

  beforeAll(async () => {
    app = buildFakeKeyflow({ applyDelayMs: 1, token });
    app.get('/health/live', (_request, reply) => reply.send({ status: 'ok' }));
    target = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should say how to install wrk when it is missing', async () => {
    await expect(new WrkRunner(WRK_SCRIPT_DIR, 'wrk-not-installed-here').version()).rejects.toThrow(
      WrkUnavailableError,
    );
  });

  it.skipIf(!hasWrk)('should run each script with the bearer token and parse what wrk measured', async () => {
    expect(await runner.version()).toMatch(/\d+\.\d+/);
    const health = await runner.run({ ...spec, profile: 'health-live', target });
    expect(health.result.requests).toBeGreaterThan(0);
    expect(health.result.errorCount).toBe(0);
    expect(health.commandLine).not.toContain(token);

    const put = await runner.run({
      ...spec,
      profile: 'store-put',
      target,
      keyPrefix: 'lt-wrk-spec',
      keySpace: 10,
      valueSize: 32,
    });
    expect(put.result).toMatchObject({ errorCount: 0, okResponses: put.result.requests });
    // Random keys of the key space, each written with a value of the asked size.
    const stored = await app.inject({
      method: 'GET',
      url: '/store/lt-wrk-spec-r3',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(stored.json()).toEqual({ value: `wrk:${'.'.repeat(28)}` });

    const get = await runner.run({ ...spec, profile: 'kv-get', target, keyPrefix: 'lt-wrk-spec-absent', keySpace: 5 });
    // Keys nobody wrote: every answer is a 404, which wrk counts as a status error.
    expect(get.result.errors.status).toBe(get.result.requests);
    expect(get.result.okResponses).toBe(0);
  });

  it.skipIf(!hasWrk)('should count every answer as an error without the token', async () => {
    const run = await runner.run({ ...spec, token: undefined, profile: 'health-live', target });
    expect(run.result.errors.status).toBe(run.result.requests);
  });
});
