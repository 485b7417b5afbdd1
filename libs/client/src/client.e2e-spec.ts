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
