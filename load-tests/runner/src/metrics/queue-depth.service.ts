import { systemClock, type Clock } from '../util/clock.util';

/** Where RabbitMQ's management API is (`stack.json`: `management`, `managementUser`, `managementPassword`). */
export interface ManagementApi {
  url: string;
  user: string;
  password: string;
  /** The vhost of keyflow's queues (`stack.json`: `amqpVhost`). */
  vhost: string;
}

export interface QueueDepth {
  /** Messages in the shard queues (`kv.shard.<n>`): ready plus delivered but not yet acknowledged. */
  messages: number;
  queues: number;
}

export interface QueueDrainResult {
  /** Shard-queue messages at the first sample after the load. */
  initialMessages: number;
  /** Milliseconds from the call until every shard queue reported 0 messages; null when that never happened. */
  drainedAfterMs: number | null;
  /** Messages at the last sample. */
  lastMessages: number;
  samples: number;
}

/** `shardQueueName(n)` of @keyflow/contracts. */
const SHARD_QUEUE = /^kv\.shard\.\d+$/;

/** Sums the `messages` of every shard queue in a `GET /api/queues/<vhost>` answer. */
export function shardQueueDepth(queues: unknown): QueueDepth {
  if (!Array.isArray(queues)) throw new Error('the management API did not answer a list of queues');
  let messages = 0;
  let count = 0;
  for (const q of queues as Array<{ name?: unknown; messages?: unknown }>) {
    if (typeof q.name !== 'string' || !SHARD_QUEUE.test(q.name)) continue;
    count++;
    messages += typeof q.messages === 'number' ? q.messages : 0;
  }
  return { messages, queues: count };
}

/**
 * Reads the depth of the write path's shard queues from RabbitMQ's management API. Its figures are statistics the
 * broker refreshes every `collect_statistics_interval` (5 s by default), so a drain time read here is exact only
 * to that interval: the marker writes of the backlog drain check are the precise signal, this the confirmation
 * that nothing is left in any queue.
 */
export class QueueDepthReader {
  constructor(
    private readonly api: ManagementApi,
    private readonly clock: Clock = systemClock,
  ) {}

  async depth(): Promise<QueueDepth> {
    const vhost = encodeURIComponent(this.api.vhost);
    const url = `${this.api.url.replace(/\/+$/, '')}/api/queues/${vhost}?columns=name,messages`;
    const response = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`${this.api.user}:${this.api.password}`).toString('base64')}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw new Error(`${url}: status ${response.status}`);
    return shardQueueDepth(await response.json());
  }

  /** Polls until every shard queue reports 0 messages, or `timeoutMs` passes. */
  async waitUntilDrained(timeoutMs: number, intervalMs = 500): Promise<QueueDrainResult> {
    const started = this.clock.now();
    let samples = 0;
    let initialMessages: number | undefined;
    let lastMessages = 0;
    for (;;) {
      const { messages } = await this.depth();
      samples++;
      initialMessages ??= messages;
      lastMessages = messages;
      const elapsed = this.clock.now() - started;
      if (messages === 0) return { initialMessages, drainedAfterMs: elapsed, lastMessages, samples };
      if (elapsed >= timeoutMs) return { initialMessages, drainedAfterMs: null, lastMessages, samples };
      await this.clock.sleep(intervalMs);
    }
  }
}

/** The management API of a stack description, when it names one. */
export function managementApiOf(stack: {
  management?: string | undefined;
  managementUser?: string | undefined;
  managementPassword?: string | undefined;
  amqpVhost?: string | undefined;
}): ManagementApi | undefined {
  if (stack.management === undefined || stack.managementUser === undefined || stack.managementPassword === undefined) {
    return undefined;
  }
  return {
    url: stack.management,
    user: stack.managementUser,
    password: stack.managementPassword,
    vhost: stack.amqpVhost ?? '/',
  };
}
