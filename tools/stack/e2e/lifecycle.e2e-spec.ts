import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentPid,
  gatewayRequest,
  killWholeStack,
  pollUntil,
  readStack,
  stackProcessIds,
  startProcess,
  stopProcess,
  type StackInfo,
} from '@keyflow/testing';

/**
 * The stack's life cycle as a user lives it, on the test stack itself: stop and start keep every key, version,
 * user, session and queued write; a crash of every process (a power loss) loses nothing; `up` repairs a stack
 * with a dead process and deletes nothing. Each test leaves the stack up and healthy for the suites after it.
 */
const REPO_ROOT = resolve(__dirname, '../../..');
const TOPOLOGY = resolve(REPO_ROOT, 'deploy/topologies/test.yaml');

function stackCommand(...args: string[]): { status: number; output: string; stdout: string } {
  const res = spawnSync(process.execPath, ['tools/stack/bin/keyflow-stack.mjs', ...args, '--topology', TOPOLOGY], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, KEYFLOW_SKIP_NPM_CI: '1' },
  });
  return { status: res.status ?? 1, output: `${res.stdout}${res.stderr}`, stdout: res.stdout };
}

function expectCommand(...args: string[]): string {
  const res = stackCommand(...args);
  expect(res.status, `${args.join(' ')}:\n${res.output}`).toBe(0);
  return res.output;
}

let stack: StackInfo;
const run = randomUUID().slice(0, 8);

function call(
  method: string,
  path: string,
  { body, headers = {} }: { body?: unknown; headers?: Record<string, string> } = {},
) {
  // A cookie stands for itself; otherwise the admin's token.
  const request = () => gatewayRequest(method, path, { body, headers, stack, asAdmin: !headers['cookie'] });
  // Kept-alive connections from before a restart are closed under us, each once (EPIPE, "other side closed"): there
  // may be as many as the parallel writes opened, so a GET goes again until one reaches the new gateway.
  const attempt = async (left: number): Promise<Awaited<ReturnType<typeof request>>> => {
    try {
      return await request();
    } catch (err: unknown) {
      if (method !== 'GET' || left === 0) throw err;
      return attempt(left - 1);
    }
  };
  return attempt(32);
}

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** The key's current entry, read from the database's primary (never a cache or a lagging replica). */
async function strongRead(key: string): Promise<{ status: number; value?: unknown; version?: number }> {
  const r = await call('GET', `/v1/kv/${key}?consistency=strong`);
  return { status: r.status, value: r.json.value, version: r.json.version as number | undefined };
}

// Each test stops or starts the whole stack at least once (30–45 s each on two cores).
describe('stack life cycle (e2e)', { timeout: 300_000 }, () => {
  beforeAll(() => {
    stack = readStack();
  });

  afterAll(() => {
    // Whatever failed above, the suites after this one need a whole stack.
    if (stackCommand('status').status !== 0) stackCommand('up');
  });

  describe('stop and start', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `life-${run}-${i}`);
    let username: string;
    let cookie: string;

    it('should bring back every key, version, user, session and queued write after npm stop and npm start', async () => {
      // 500 keys applied, read back through the cache.
      await inParallel(keys, 16, async (key) => {
        const r = await call('PUT', `/v1/kv/${key}`, {
          body: { value: { key, n: 1 } },
          headers: { prefer: 'wait=30' },
        });
        expect(r.status, key).toBe(201);
      });
      // A user and their session (the session lives in Redis).
      username = `life-${run}`;
      expect((await call('POST', '/v1/users', { body: { username, password: 'correct horse battery' } })).status).toBe(
        201,
      );
      const login = await gatewayRequest('POST', '/v1/auth/login', {
        body: { username, password: 'correct horse battery' },
        stack,
        asAdmin: false,
      });
      expect(login.status).toBe(200);
      cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

      // The workers stop consuming: 200 more writes are accepted (queued in RabbitMQ) but not applied.
      await stopProcess('worker-1');
      await stopProcess('worker-2');
      const queued = [...keys.slice(0, 100), ...Array.from({ length: 100 }, (_, i) => `life-${run}-new-${i}`)];
      await inParallel(queued, 16, async (key) => {
        const r = await call('PUT', `/v1/kv/${key}`, { body: { value: { key, n: 2 } } });
        expect(r.status, key).toBe(202);
      });
      expect(await strongRead(keys[0] ?? '')).toMatchObject({ status: 200, version: 1 });
      expect((await strongRead(`life-${run}-new-0`)).status).toBe(404);

      const token = readStack().token;
      const stopped = expectCommand('down');
      expect(stopped).toMatch(/data kept in/);
      expect(stackProcessIds(stack.stackDir)).toEqual([]);
      expect(readStack().state).toBe('stopped');

      const started = expectCommand('up');
      expect(started).toMatch(/resuming from the data on disk/);
      stack = readStack();
      expect(stack.token).toBe(token);
      expect((await call('GET', '/v1/auth/me')).json).toMatchObject({ username: 'admin', role: 'admin' });

      // The queued writes are applied now; every key reads back with its version.
      await pollUntil(
        () => strongRead(`life-${run}-new-99`),
        (r) => r.status === 200,
        { what: 'the writes queued before the stop to be applied', timeoutMs: 90_000, intervalMs: 250 },
      );
      await inParallel(keys, 16, async (key) => {
        const i = Number(key.slice(key.lastIndexOf('-') + 1));
        const expected = i < 100 ? { value: { key, n: 2 }, version: 2 } : { value: { key, n: 1 }, version: 1 };
        const r = await pollUntil(
          () => call('GET', `/v1/kv/${key}`),
          (x) => x.json.version === expected.version,
          { what: `${key} at version ${expected.version}`, timeoutMs: 60_000, intervalMs: 250 },
        );
        expect(r.json).toMatchObject({ key, ...expected });
      });
      for (let i = 0; i < 100; i++) {
        const key = `life-${run}-new-${i}`;
        expect(await strongRead(key)).toEqual({ status: 200, value: { key, n: 2 }, version: 1 });
      }
      // The session outlived the restart, on every gateway.
      const me = await call('GET', '/v1/auth/me', { headers: { cookie } });
      expect(me.json).toMatchObject({ username, authenticatedBy: 'session' });
    });
  });

  it('should resume from the data on disk after every process is SIGKILLed at once', async () => {
    const key = `life-${run}-crash`;
    expect(
      (await call('PUT', `/v1/kv/${key}`, { body: { value: 'before' }, headers: { prefer: 'wait=30' } })).status,
    ).toBe(201);
    const killed = killWholeStack(readStack());
    expect(killed.length).toBeGreaterThan(15);
    await pollUntil(
      () => Promise.resolve(stackProcessIds(stack.stackDir)),
      (left) => left.length === 0,
      { what: 'every stack process to be gone' },
    );

    expectCommand('up');
    stack = readStack();
    expect(await strongRead(key)).toEqual({ status: 200, value: 'before', version: 1 });
    expect((await call('GET', `/v1/kv/life-${run}-250`)).json).toMatchObject({ version: 1 });
    const after = await call('PUT', `/v1/kv/${key}`, { body: { value: 'after' }, headers: { prefer: 'wait=30' } });
    expect(after.json).toMatchObject({ status: 'applied', version: 2 });
  });

  it('should repair a stack with a dead worker on npm start and keep every key', async () => {
    await stopProcess('worker-1');
    expect(await currentPid('worker-1')).toBe(0);
    expect(stackCommand('status').status).toBe(1);

    const output = expectCommand('up');
    expect(output).toMatch(/repairing/);
    expect(await currentPid('worker-1')).toBeGreaterThan(0);
    stack = readStack();
    for (const i of [0, 250, 499]) expect((await strongRead(`life-${run}-${i}`)).status).toBe(200);
    expect(stackCommand('status').status).toBe(0);
  });

  it('should restart a process the supervisor sees die, and count it in status --json', async () => {
    const before = await currentPid('api-2');
    process.kill(before, 'SIGKILL');
    const after = await startProcess('api-2', { waitForHealth: true });
    expect(after).not.toBe(before);
    const rows = JSON.parse(stackCommand('status', '--json').stdout) as Array<{
      name: string;
      pid: number;
      alive: boolean;
      healthy: boolean;
      restarts: number;
      lastExit?: string;
    }>;
    expect(rows.find((r) => r.name === 'api-2')).toMatchObject({
      pid: after,
      alive: true,
      healthy: true,
      lastExit: 'terminated by SIGKILL; not expected',
    });
    expect(rows.find((r) => r.name === 'api-2')?.restarts).toBeGreaterThanOrEqual(1);
  });
});
