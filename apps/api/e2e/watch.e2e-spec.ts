import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shardOf, shardQueueName, type WriteMessage } from '@keyflow/contracts';
import {
  adminAuthHeaders,
  gatewayRequest,
  killProcess,
  pollUntil,
  readStack,
  supervisorctl,
  type StackInfo,
} from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * `GET /v1/watch` end to end, through the nginx gateway: the workers publish every applied write to the change stream
 * (a RabbitMQ stream on the three nodes), an API streams it as Server-Sent Events. The events are parsed here by
 * hand, as a client without an SSE library would.
 */
let stack: StackInfo;
const run = randomUUID().slice(0, 8);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

interface WatchEvent {
  event: string;
  id: string;
  data: { key: string; version: number; value?: unknown; revision: number; updatedAt: string };
}

/** One open `GET /v1/watch`, read as it comes. */
interface Watch {
  status: number;
  headers: Headers;
  /** The body of a refused watch (a problem document). */
  text: string;
  events: WatchEvent[];
  comments: string[];
  ended: boolean;
  close(): void;
}

const open: Watch[] = [];

/** Parses one SSE frame (the lines before a blank line): fields `event`, `id`, `data`, `retry`; `:` starts a comment. */
function readFrame(frame: string, watch: Watch): void {
  const fields: Record<string, string> = {};
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) {
      watch.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    fields[name] = name === 'data' && fields.data !== undefined ? `${fields.data}\n${value}` : value;
  }
  if (fields.data === undefined) return;
  watch.events.push({
    event: fields.event ?? 'message',
    id: fields.id ?? '',
    data: JSON.parse(fields.data) as WatchEvent['data'],
  });
}

async function watch(query: string, headers: Record<string, string> = {}): Promise<Watch> {
  const abort = new AbortController();
  const response = await fetch(`${stack.gateway}/v1/watch${query}`, {
    headers: { ...adminAuthHeaders(stack), ...headers },
    signal: abort.signal,
  });
  const result: Watch = {
    status: response.status,
    headers: response.headers,
    text: '',
    events: [],
    comments: [],
    ended: false,
    close: () => abort.abort(),
  };
  if (response.status !== 200 || !response.body) {
    result.text = await response.text();
    result.ended = true;
    return result;
  }
  open.push(result);
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          readFrame(buffer.slice(0, end), result);
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by the test.
    } finally {
      result.ended = true;
    }
  })();
  // The API sends a comment once its consumer is attached: from then on no change is missed.
  await until(() => result.comments.includes('watching'), 'the watch to start');
  return result;
}

function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<boolean> {
  return pollUntil(() => Promise.resolve(condition()), Boolean, { what, timeoutMs, intervalMs: 20 });
}

function put(key: string, value: unknown) {
  return gatewayRequest('PUT', `/v1/kv/${encodeURIComponent(key)}`, { body: { value }, stack, timeoutMs: 60_000 });
}

/** Runs `tasks` with at most `concurrency` in flight. */
async function pool<T>(tasks: Array<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]();
      }
    }),
  );
  return results;
}

function versionsByKey(events: WatchEvent[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const e of events) byKey.set(e.data.key, [...(byKey.get(e.data.key) ?? []), e.data.version]);
  return byKey;
}

/** Puts a write message straight into its shard queue, as an API (or the TTL sweeper) would. */
async function sendToShard(message: WriteMessage): Promise<void> {
  const connection = await connect(stack.amqp[0] ?? '');
  try {
    const channel = await connection.createConfirmChannel();
    const queue = shardQueueName(shardOf(message.key, 16));
    channel.sendToQueue(queue, Buffer.from(JSON.stringify(message)), { persistent: true });
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('GET /v1/watch (e2e through the gateway)', () => {
  // The heartbeat test's stream opens before every test and stays idle (no write under its prefix) while the tests
  // before it run: its first heartbeat (WATCH_HEARTBEAT_MS, 15 s) comes meanwhile instead of being waited out.
  const idlePrefix = `watch-${run}-idle-`;
  let idle: Watch | undefined;

  beforeAll(async () => {
    stack = readStack();
    idle = await watch(`?prefix=${encodeURIComponent(idlePrefix)}`);
    // Not closed after each test, as the others are.
    if (open.includes(idle)) open.splice(open.indexOf(idle), 1);
  });

  afterAll(() => idle?.close());

  afterEach(() => {
    for (const w of open.splice(0)) w.close();
  });

  it('should stream every event of 1,000 concurrent writes to 20 keys, each key in version order up to its final version', async () => {
    const prefix = `watch-${run}-many-`;
    const w = await watch(`?prefix=${prefix}`);
    expect(w.status).toBe(200);
    expect(w.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(w.headers.get('x-served-by')).toMatch(/^api-\d+$/);
    const keys = Array.from({ length: 20 }, (_, i) => `${prefix}${i}`);

    const answers = await pool(
      range(1_000).map((n) => () => put(keys[n % 20], { n })),
      100,
    );
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    await until(() => w.events.length >= 1_000, 'all 1,000 events', 120_000);

    // Nothing missed, nothing twice: every key's versions are exactly 1..50, in order.
    const byKey = versionsByKey(w.events);
    expect([...byKey.keys()].sort()).toEqual([...keys].sort());
    for (const key of keys) expect(byKey.get(key), key).toEqual(range(50));
    // Revisions rise along the stream; each event's id is its revision.
    const revisions = w.events.map((e) => e.data.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(1_000);
    expect(w.events.every((e) => e.id === String(e.data.revision) && e.event === 'put')).toBe(true);
    // The last event of each key is what the database holds now.
    for (const key of keys) {
      const read = await gatewayRequest('GET', `/v1/kv/${key}?consistency=strong`, { stack });
      const last = w.events.filter((e) => e.data.key === key).at(-1);
      expect(last?.data).toEqual({
        key,
        version: 50,
        value: read.json.value,
        revision: last?.data.revision,
        updatedAt: ISO,
      });
      expect(read.json.version).toBe(50);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(w.events).toHaveLength(1_000);
  }, 240_000);

  it('should resume after a disconnect with Last-Event-ID, missing nothing and repeating nothing', async () => {
    const prefix = `watch-${run}-resume-`;
    const keys = [0, 1, 2].map((i) => `${prefix}${i}`);
    const first = await watch(`?prefix=${encodeURIComponent(prefix)}`);
    const writes = (from: number, count: number) =>
      pool(
        range(count).map((n) => () => put(keys[(from + n) % 3], from + n)),
        10,
      );

    const firstHalf = writes(0, 60);
    await until(() => first.events.length >= 20, 'the first events');
    first.close();
    await until(() => first.ended, 'the first watch to end');
    const received = [...first.events];
    const last = received.at(-1) as WatchEvent;
    await firstHalf;
    await writes(60, 60);

    const resumed = await watch(`?prefix=${encodeURIComponent(prefix)}`, { 'last-event-id': last.id });
    await until(() => received.length + resumed.events.length >= 120, 'the rest of the 120 events', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(resumed.events[0]?.data.revision).toBeGreaterThan(last.data.revision);
    const all = [...received, ...resumed.events];
    expect(all).toHaveLength(120);
    const byKey = versionsByKey(all);
    for (const key of keys) expect(byKey.get(key), key).toEqual(range(40));

    // ?fromRevision= replays the same sequence from the same point: resuming is exact, wherever it starts.
    const replay = await watch(`?prefix=${encodeURIComponent(prefix)}&fromRevision=${received[0].data.revision - 1}`);
    await until(() => replay.events.length >= 120, 'the replay');
    expect(replay.events).toEqual(all);
  }, 180_000);

  it('should send only the keys under the prefix, and a delete as a delete event without a value', async () => {
    const prefix = `watch-${run}-only-`;
    const w = await watch(`?prefix=${encodeURIComponent(prefix)}`);
    expect((await put(`${prefix}a`, { x: [1, 'two', null] })).status).toBe(202);
    expect((await put(`watch-${run}-other-a`, 1)).status).toBe(202);
    const del = await gatewayRequest('DELETE', `/v1/kv/${prefix}a`, { stack, headers: { prefer: 'wait=10' } });
    expect(del.status).toBe(204);
    await until(() => w.events.length >= 2, 'the put and the delete');
    await new Promise((resolve) => setTimeout(resolve, 500));

    const [putEvent, deleteEvent] = w.events;
    expect(w.events).toEqual([
      {
        event: 'put',
        id: String(putEvent?.data.revision),
        data: {
          key: `${prefix}a`,
          version: 1,
          value: { x: [1, 'two', null] },
          revision: expect.any(Number),
          updatedAt: ISO,
        },
      },
      {
        event: 'delete',
        id: String(deleteEvent?.data.revision),
        data: { key: `${prefix}a`, version: 2, revision: expect.any(Number), updatedAt: ISO },
      },
    ]);
  });

  it('should send a delete the TTL sweeper made (cause expire) as an expire event, and a conflict as nothing', async () => {
    const prefix = `watch-${run}-ttl-`;
    const key = `${prefix}k`;
    const w = await watch(`?prefix=${encodeURIComponent(prefix)}`);
    // A real time to live: the worker's expiry sweeper deletes the key through the write path once it passed.
    const written = await gatewayRequest('PUT', `/v1/kv/${key}`, { stack, body: { value: 'short-lived', ttl: 1 } });
    expect(written.status).toBe(202);
    const conflict = await gatewayRequest('PUT', `/v1/kv/${key}`, {
      stack,
      body: { value: 'never' },
      headers: { 'if-match': '"7"', prefer: 'wait=10' },
    });
    expect(conflict.status).toBe(412);
    await until(() => w.events.length >= 2, 'the put and the expiry');
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(w.events.map((e) => [e.event, e.data.version, 'value' in e.data])).toEqual([
      ['put', 1, true],
      ['expire', 2, false],
    ]);
  });

  it('should leave out the second copy of a change a redelivered write publishes, live and after any revision', async () => {
    const prefix = `watch-${run}-redo-`;
    const key = `${prefix}k`;
    const live = await watch(`?prefix=${encodeURIComponent(prefix)}`);
    const first = await gatewayRequest('PUT', `/v1/kv/${key}`, {
      stack,
      body: { value: { n: 1 } },
      headers: { prefer: 'wait=10' },
    });
    expect(first.status).toBe(201);
    await until(() => live.events.length === 1, 'the first change');
    // The same operation delivered again, as after a worker died between its commit and its ack: applied already,
    // its change is published a second time (marked redo) before the next write's.
    await sendToShard({
      v: 1,
      id: String(first.json.operationId),
      key,
      type: 'put',
      value: { n: 1 },
      acceptedAt: new Date().toISOString(),
    });
    expect((await gatewayRequest('PUT', `/v1/kv/${key}`, { stack, body: { value: { n: 2 } } })).status).toBe(202);
    await until(() => live.events.length >= 2, 'the second change');
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(live.events.map((e) => [e.data.version, e.data.value])).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
    ]);
    const [v1, v2] = live.events as [WatchEvent, WatchEvent];
    // The copy sits between them in the stream: a watch resumed right after v1 must look back to know it is one.
    expect(v2.data.revision - v1.data.revision).toBeGreaterThan(1);
    const resumed = await watch(`?prefix=${encodeURIComponent(prefix)}`, { 'last-event-id': v1.id });
    const replayed = await watch(`?prefix=${encodeURIComponent(prefix)}&fromRevision=${v1.data.revision - 1}`);
    await until(() => resumed.events.length >= 1 && replayed.events.length >= 2, 'the resumed and replayed changes');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(resumed.events).toEqual([v2]);
    expect(replayed.events).toEqual([v1, v2]);
  });

  it('should answer 400 for a revision that is not a whole number, and 401 without credentials', async () => {
    const garbage = await gatewayRequest('GET', '/v1/watch?fromRevision=12abc', { stack, expectJson: false });
    expect(garbage.status).toBe(400);
    expect(garbage.json).toEqual(
      problem(
        400,
        'invalid-request',
        'Invalid request',
        'fromRevision must be a revision: a whole number from 0 (the id of an event this stream sent), not "12abc"',
        '/v1/watch',
      ),
    );
    const negative = await gatewayRequest('GET', '/v1/watch', { stack, headers: { 'last-event-id': '-1' } });
    expect(negative.status).toBe(400);
    expect(negative.json.detail).toMatch(/^Last-Event-ID must be a revision/);

    const anonymous = await gatewayRequest('GET', '/v1/watch', { stack, asAdmin: false });
    expect(anonymous.status).toBe(401);
  });

  it('should document the route in the OpenAPI document: the event stream and its problems', async () => {
    const doc = await gatewayRequest('GET', '/docs/json', { stack });
    const paths = doc.json.paths as Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
    const get = paths['/v1/watch']?.get;
    // 403: a prefix outside every grant of the caller (issue 16).
    expect(Object.keys(get?.responses ?? {}).sort()).toEqual(['200', '400', '401', '403', '410', '503']);
    expect(Object.keys(get?.responses['200']?.content ?? {})).toEqual(['text/event-stream']);
  });

  it('should keep an idle stream open through the gateway with heartbeats, and still deliver after them', async () => {
    // Opened in beforeAll: idle since then, through every test above.
    const w = idle;
    if (!w) throw new Error('the idle watch did not open');
    expect(w.status).toBe(200);
    await until(() => w.comments.includes('ping'), 'a heartbeat', 40_000);
    expect(w.ended).toBe(false);
    expect(w.events).toEqual([]);
    expect((await put(`${idlePrefix}k`, 'late')).status).toBe(202);
    await until(() => w.events.length === 1, 'the event after the heartbeat');
    expect(w.events[0]?.data).toMatchObject({ key: `${idlePrefix}k`, version: 1, value: 'late' });
  }, 60_000);
  it('should miss and repeat nothing when the workers are SIGKILLed mid-load, live and on a replay', async () => {
    const prefix = `watch-${run}-kill-`;
    const keys = Array.from({ length: 10 }, (_, i) => `${prefix}${i}`);
    const live = await watch(`?prefix=${encodeURIComponent(prefix)}`);
    const load = pool(
      range(600).map((n) => () => put(keys[n % 10], n)),
      50,
    );
    await until(() => live.events.length >= 100, 'the first events');
    await killProcess('worker-1', 'SIGKILL');
    await until(() => live.events.length >= 300, 'events after the first kill', 60_000);
    await killProcess('worker-2', 'SIGKILL');
    expect((await load).filter((a) => a.status !== 202)).toEqual([]);
    await until(() => live.events.length >= 600, 'all 600 events', 120_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const byKey = versionsByKey(live.events);
    for (const key of keys) expect(byKey.get(key), key).toEqual(range(60));
    const replay = await watch(
      `?prefix=${encodeURIComponent(prefix)}&fromRevision=${live.events[0].data.revision - 1}`,
    );
    await until(() => replay.events.length >= 600, 'the replay');
    expect(replay.events).toEqual(live.events);

    for (const name of ['worker-1', 'worker-2']) {
      const program = stack.processes.find((p) => p.name === name)?.program ?? name;
      await pollUntil(
        () => supervisorctl(['status', program]),
        (out) => /\bRUNNING\b/.test(out),
        { what: `${name} RUNNING again`, timeoutMs: 120_000, intervalMs: 500 },
      );
    }
  }, 300_000);
});
