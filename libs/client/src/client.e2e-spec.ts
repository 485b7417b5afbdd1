import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readStack } from '@keyflow/testing';
import { KeyflowClient, KeyflowProblem } from './index';

const stack = readStack();
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
    const anonymous = new KeyflowClient({ baseUrl: stack.gateway });
    await expect(anonymous.put(k, 3)).rejects.toMatchObject({ status: 401 });
  });
});
