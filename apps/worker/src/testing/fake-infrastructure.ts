import { EventEmitter } from 'node:events';
import type { TestingModuleBuilder } from '@nestjs/testing';
import { AMQP, REDIS, WRITE_POOL } from '../infrastructure/infrastructure.tokens';

/**
 * In-process stand-ins for the clients the worker's `InfrastructureModule` builds (no network, no servers), for
 * module tests of the real module graph. Only the clients are replaced: the repositories and the cache made from
 * them are the real ones. Every fake writes what happens to it to one shared log, so a test can see the order in
 * which the module used and closed them.
 */

/** A `pg` pool: `SELECT 1` answers, other queries find no rows; it lends no clients, so a transaction fails. */
export class FakePool {
  readonly queries: string[] = [];
  connects = 0;
  /** Read by the pool gauge on `/metrics`. */
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  /** What `connect` (and every query) fails with; a pool that cannot reach its server, say. */
  failure?: Error;

  constructor(private readonly log: string[]) {}

  query(text: string): Promise<{ rows: unknown[]; rowCount: number }> {
    this.queries.push(text);
    if (this.failure) return Promise.reject(this.failure);
    return Promise.resolve(
      text.trim() === 'SELECT 1' ? { rows: [{ '?column?': 1 }], rowCount: 1 } : { rows: [], rowCount: 0 },
    );
  }

  connect(): Promise<never> {
    this.connects += 1;
    return Promise.reject(this.failure ?? new Error('FakePool lends no clients'));
  }

  on(): this {
    return this;
  }

  end(): Promise<void> {
    this.log.push('pool: end');
    return Promise.resolve();
  }
}

/**
 * The commands of an ioredis `Cluster` that building, starting and closing the worker use: Lua definitions
 * (recorded, not run), PING, and the sorted-set commands of the worker group (`WorkerMembership`).
 * A command it lacks fails as "not a function".
 */
export class FakeRedis {
  status: 'ready' | 'end' = 'ready';
  readonly scripts: string[] = [];
  /** Sorted sets: key → member → score. */
  readonly sortedSets = new Map<string, Map<string, number>>();

  constructor(private readonly log: string[]) {}

  defineCommand(name: string): void {
    this.scripts.push(name);
  }

  ping(): Promise<string> {
    return Promise.resolve('PONG');
  }

  zadd(key: string, score: number, member: string): Promise<number> {
    const set = this.sortedSets.get(key) ?? new Map<string, number>();
    this.sortedSets.set(key, set);
    const added = set.has(member) ? 0 : 1;
    set.set(member, score);
    return Promise.resolve(added);
  }

  zremrangebyscore(key: string, min: number | string, max: number | string): Promise<number> {
    const set = this.sortedSets.get(key);
    const gone = [...(set?.entries() ?? [])].filter(([, score]) => inRange(score, min, max));
    for (const [member] of gone) set?.delete(member);
    return Promise.resolve(gone.length);
  }

  /** With WITHSCORES, as `WorkerMembership` asks: member, score, member, score… by score. */
  zrangebyscore(key: string, min: number | string, max: number | string): Promise<string[]> {
    const entries = [...(this.sortedSets.get(key)?.entries() ?? [])].filter(([, score]) => inRange(score, min, max));
    return Promise.resolve(entries.sort((a, b) => a[1] - b[1]).flatMap(([member, score]) => [member, String(score)]));
  }

  zrem(key: string, member: string): Promise<number> {
    this.log.push(`redis: zrem ${key} ${member}`);
    return Promise.resolve(this.sortedSets.get(key)?.delete(member) ? 1 : 0);
  }

  disconnect(): void {
    this.status = 'end';
    this.log.push('redis: disconnect');
  }
}

function inRange(score: number, min: number | string, max: number | string): boolean {
  const bound = (b: number | string) => (b === '-inf' ? -Infinity : b === '+inf' ? Infinity : Number(b));
  return score >= bound(min) && score <= bound(max);
}

/** A channel wrapper that never gets a channel (its setup never runs), as while the broker is away. */
class FakeChannelWrapper extends EventEmitter {
  constructor(
    readonly name: string,
    private readonly log: string[],
  ) {
    super();
  }

  publish(): Promise<boolean> {
    return Promise.reject(new Error('FakeAmqpConnection has no broker to publish to'));
  }

  close(): Promise<void> {
    this.log.push(`amqp: close channel ${this.name}`);
    return Promise.resolve();
  }
}

/** An amqp-connection-manager connection that records the channels opened on it. */
export class FakeAmqpConnection extends EventEmitter {
  connected = true;
  readonly channels: FakeChannelWrapper[] = [];

  constructor(private readonly log: string[]) {
    super();
  }

  isConnected(): boolean {
    return this.connected;
  }

  createChannel({ name = '' }: { name?: string } = {}): FakeChannelWrapper {
    const wrapper = new FakeChannelWrapper(name, this.log);
    this.channels.push(wrapper);
    return wrapper;
  }

  close(): Promise<void> {
    this.connected = false;
    this.log.push('amqp: close connection');
    return Promise.resolve();
  }
}

export interface FakeInfrastructure {
  /** What happened to the fakes, in order. */
  log: string[];
  pool: FakePool;
  redis: FakeRedis;
  amqp: FakeAmqpConnection;
}

export function fakeInfrastructure(): FakeInfrastructure {
  const log: string[] = [];
  return { log, pool: new FakePool(log), redis: new FakeRedis(log), amqp: new FakeAmqpConnection(log) };
}

/** Replaces every client the worker's `InfrastructureModule` would connect with the fakes. */
export function overrideInfrastructure(builder: TestingModuleBuilder, fakes: FakeInfrastructure): TestingModuleBuilder {
  return builder
    .overrideProvider(WRITE_POOL)
    .useValue(fakes.pool)
    .overrideProvider(REDIS)
    .useValue(fakes.redis)
    .overrideProvider(AMQP)
    .useValue(fakes.amqp);
}
