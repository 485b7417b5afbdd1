import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyflowClient, KeyflowProblem } from './index';
import { connectionFromEnvironment } from './node';

// As a user's program finds keyflow: `npm test` sets KEYFLOW_STACK_FILE to the test stack's stack.json, whose
// gateway and admin token this reads. (Not @keyflow/testing: that library is built on this one.)
const stack = (({ baseUrl, token }) => ({ gateway: baseUrl, token }))(connectionFromEnvironment());
const client = new KeyflowClient({ baseUrl: stack.gateway, token: stack.token });
const key = (name: string) => `client-e2e:${randomUUID()}:${name}`;

describe('@keyflow/client against the stack (through the gateway)', () => {
  it('should put with wait, get, and delete a key, typed end to end', async () => {
    const k = key('round-trip');
    const written = await client.put(k, { name: 'Ada', n: [1, 2.5, null] }, { wait: 10 });
    expect(written).toMatchObject({ status: 'applied', key: k, version: 1, created: true });
    expect(await client.get(k, { strong: true })).toMatchObject({ key: k, value: { name: 'Ada', n: [1, 2.5, null] } });
    expect(await client.delete(k, { wait: 10 })).toEqual({ status: 'deleted', key: k });
    expect(await client.get(k, { strong: true })).toBeUndefined();
  });

  it('should apply a write once however often it is sent with the same Idempotency-Key', async () => {
    const k = key('idempotent');
    const first = await client.put(k, 'once', { idempotencyKey: `kf-${k}` });
    const again = await client.put(k, 'once', { idempotencyKey: `kf-${k}` });
    expect(first.status).toBe('accepted');
    expect(again).toEqual(first);
    const operation = first.status === 'accepted' ? first.operationId : '';
    await expect.poll(async () => (await client.operation(operation)).status, { timeout: 15_000 }).toBe('applied');
    expect((await client.get(k, { strong: true }))?.version).toBe(1);
  });

  it('should give every write its own key by default, so two puts are two writes', async () => {
    const k = key('two');
    await client.put(k, 1, { wait: 10 });
    expect(await client.put(k, 2, { wait: 10 })).toMatchObject({ status: 'applied', version: 2, created: false });
  });

  it('should page through a prefix with list, every key once and in byte order', async () => {
    const prefix = key('list:');
    const names = ['b', 'a', 'é', 'c', 'aa'];
    for (const name of names) await client.put(`${prefix}${name}`, name, { wait: 10 });
    const listed: string[] = [];
    for await (const item of client.list(prefix, { limit: 2, strong: true })) listed.push(item.key);
    const expected = names.map((n) => `${prefix}${n}`).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(listed).toEqual(expected);
  });

  it('should watch a prefix, and resume after a revision with nothing missed or repeated', async () => {
    const prefix = key('watch:');
    const controller = new AbortController();
    const seen: Array<{ kind: string; key: string; version: number; revision: number }> = [];
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const watching = (async () => {
      for await (const event of client.watch(prefix, { signal: controller.signal, onOpen: opened })) {
        seen.push(event);
        if (seen.length === 3) controller.abort();
      }
    })();
    await open;
    await client.put(`${prefix}a`, 1, { wait: 10 });
    await client.put(`${prefix}a`, 2, { wait: 10 });
    await client.delete(`${prefix}a`, { wait: 10 });
    await watching;
    expect(seen.map(({ kind, version }) => [kind, version])).toEqual([
      ['put', 1],
      ['put', 2],
      ['delete', 3],
    ]);
    // From the first event's revision on: the two after it, and nothing else.
    const resumed = new AbortController();
    const rest: number[] = [];
    for await (const event of client.watch(prefix, { fromRevision: seen[0].revision, signal: resumed.signal })) {
      rest.push(event.version);
      if (rest.length === 2) resumed.abort();
    }
    expect(rest).toEqual([2, 3]);
  });

  it('should raise problem documents as KeyflowProblem, conditions included', async () => {
    const k = key('problem');
    await client.put(k, 1, { wait: 10 });
    const conflict = await client.put(k, 2, { ifMatch: 7, wait: 10 }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(KeyflowProblem);
    expect((conflict as KeyflowProblem).status).toBe(412);
    const bad = await client.get('x'.repeat(600)).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(KeyflowProblem);
    expect(bad).toMatchObject({ status: 400, type: expect.stringContaining('invalid-key') as unknown });
    // A 404 is a typed problem too, except on `get`, where a missing key is `undefined`.
    const unknown = await client.operation(randomUUID()).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(KeyflowProblem);
    expect((unknown as KeyflowProblem).status).toBe(404);
    expect(await client.get(key('never-written'))).toBeUndefined();
    const anonymous = new KeyflowClient({ baseUrl: stack.gateway });
    await expect(anonymous.put(k, 3)).rejects.toMatchObject({ status: 401 });
  });

  it('should apply a write once when its answer is lost and the client sends it again', async () => {
    const k = key('lost-answer');
    const sent: Array<string | null> = [];
    // The first PUT reaches the API and is accepted; its answer is then "lost" as a dropped connection would lose it.
    const losing: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      sent.push(request.headers.get('idempotency-key'));
      const response = await fetch(request);
      if (request.method === 'PUT' && sent.length === 1) {
        await response.body?.cancel();
        throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
      }
      return response;
    };
    const flaky = new KeyflowClient({
      baseUrl: stack.gateway,
      token: stack.token,
      fetch: losing,
      retry: { baseDelayMs: 10 },
    });
    const written = await flaky.put(k, { once: true }, { wait: 10 });
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]);
    expect(written).toMatchObject({ status: 'applied', version: 1 });
    expect(await client.get(k, { strong: true })).toMatchObject({ version: 1, value: { once: true } });
  });

  it('should send a value given as JSON text exactly as written', async () => {
    const k = key('json-text');
    await client.putJson(k, '{"a": [1.5, "x"], "n": -0.25}', { wait: 10 });
    expect((await client.get(k, { strong: true }))?.value).toEqual({ a: [1.5, 'x'], n: -0.25 });
    // A number a double cannot hold: parsed and serialised again it would be stored as 12345678901234567000.
    const refused = await client.putJson(k, '12345678901234567890', { wait: 10 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400 });
    expect((await client.get(k, { strong: true }))?.version).toBe(1);
  });

  it('should write in bulk and follow each operation to its outcome', async () => {
    const prefix = key('bulk:');
    const answer = await client.bulk([
      { op: 'put', key: `${prefix}a`, value: 1 },
      { op: 'put', key: `${prefix}b`, value: 'two', ttl: 3600 },
      { op: 'put', key: `${prefix}a`, value: 3, ifMatch: 1 },
    ]);
    expect(answer.operations.map((o) => o.status)).toEqual(['accepted', 'accepted', 'accepted']);
    const outcomes = await Promise.all(answer.operations.map((o) => client.settled(o.operationId)));
    expect(outcomes.map((o) => [o.status, o.version])).toEqual([
      ['applied', 1],
      ['applied', 1],
      ['applied', 2],
    ]);
    expect((await client.get(`${prefix}b`, { strong: true }))?.expiresAt).toBeDefined();
  });

  it('should log in with a password, make a token that works, and revoke it', async () => {
    const session = new KeyflowClient({ baseUrl: stack.gateway });
    const username = `client-${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    await client.raw.POST('/v1/users', { body: { username, password, role: 'user', grants: [] } });
    await expect(session.login(username, 'wrong password here')).rejects.toMatchObject({ status: 401 });
    expect(await session.login(username, password)).toMatchObject({ username, role: 'user' });
    expect(session.sessionCookie).toMatch(/^keyflow_session=/);
    expect(await session.me()).toMatchObject({ username, authenticatedBy: 'session' });
    const created = await session.createToken('client-e2e');
    const byToken = new KeyflowClient({ baseUrl: stack.gateway, token: created.token });
    expect(await byToken.me()).toMatchObject({ username, authenticatedBy: 'token' });
    await session.revokeToken(created.id);
    await expect
      .poll(
        () =>
          byToken.me().then(
            () => 200,
            (e: KeyflowProblem) => e.status,
          ),
        { timeout: 5_000 },
      )
      .toBe(401);
    await session.logout();
    expect(session.sessionCookie).toBeUndefined();
    await expect(session.me()).rejects.toMatchObject({ status: 401 });
  });

  it('should back up a prefix as a stream and restore it without overwriting', async () => {
    const prefix = key('backup:');
    await client.put(`${prefix}a`, { v: 1 }, { wait: 10 });
    await client.put(`${prefix}b`, [true, null], { wait: 10 });
    const backup = await client.backup({ prefix });
    const text = await new Response(backup.body).text();
    const lines = text.trim().split('\n');
    expect(backup.keys).toBe(2);
    expect(lines.map((line) => (JSON.parse(line) as { key: string }).key)).toEqual([`${prefix}a`, `${prefix}b`]);
    const moved = lines.map((line) => line.replace(prefix, `${prefix}copy:`)).join('\n');
    expect(await client.restore(moved)).toEqual({ received: 2, restored: 2, existing: 0, expired: 0 });
    expect(await client.restore(moved)).toEqual({ received: 2, restored: 0, existing: 2, expired: 0 });
    expect((await client.get(`${prefix}copy:b`, { strong: true }))?.value).toEqual([true, null]);
  });

  it('should answer the status of the instance it reached', async () => {
    const status = await client.status();
    expect(Object.keys(status.dependencies).sort()).toEqual(expect.arrayContaining(['database', 'redis']));
  });
});
