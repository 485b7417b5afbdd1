import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { managementApiOf, QueueDepthReader, shardQueueDepth } from './queue-depth.service';

describe(QueueDepthReader.name, () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.close();
    if (server) await once(server, 'close');
    server = undefined;
  });

  /** A management API whose shard queues hold the next of `depths` at each request. */
  async function managementApi(depths: number[]): Promise<{ url: string; auth: string[] }> {
    const auth: string[] = [];
    server = createServer((request, response) => {
      auth.push(request.headers.authorization ?? '');
      const messages = depths.length > 1 ? (depths.shift() ?? 0) : (depths[0] ?? 0);
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify([
          { name: 'kv.shard.0', messages },
          { name: 'kv.shard.1', messages: 0 },
          { name: 'kv.dead-letter', messages: 99 },
        ]),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, auth };
  }

  it('should add up only the shard queues', () => {
    expect(
      shardQueueDepth([
        { name: 'kv.shard.3', messages: 4 },
        { name: 'kv.shard.12', messages: 1 },
        { name: 'kv.dead-letter', messages: 7 },
        { name: 'kv.shard.x' },
      ]),
    ).toEqual({ messages: 5, queues: 2 });
    expect(() => shardQueueDepth({ error: 'not_authorised' })).toThrow('did not answer a list of queues');
  });

  it('should poll with the stack credentials until every shard queue is empty', async () => {
    const api = await managementApi([30, 12, 0]);
    const reader = new QueueDepthReader(
      managementApiOf({ management: api.url, managementUser: 'u', managementPassword: 'p' }) ?? {
        url: '',
        user: '',
        password: '',
        vhost: '',
      },
    );
    const result = await reader.waitUntilDrained(10_000, 10);
    expect(result).toMatchObject({ initialMessages: 30, lastMessages: 0, samples: 3 });
    expect(result.drainedAfterMs).not.toBeNull();
    expect(api.auth[0]).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('should give up after the timeout with what is left', async () => {
    const api = await managementApi([5]);
    const reader = new QueueDepthReader({ url: api.url, user: 'u', password: 'p', vhost: 'keyflow' });
    expect(await reader.waitUntilDrained(30, 10)).toMatchObject({
      initialMessages: 5,
      drainedAfterMs: null,
      lastMessages: 5,
    });
    expect(managementApiOf({})).toBeUndefined();
  });
});
