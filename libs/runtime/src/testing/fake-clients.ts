import { EventEmitter } from 'node:events';
import type { TestingModuleBuilder } from '@nestjs/testing';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from '../infrastructure/infrastructure.tokens';

/**
 * In-process stand-ins for the clients `RuntimeModule` builds (no network, no servers), for module tests of an app's
 * real module graph. Only the clients are replaced: the repositories, caches and stores made from them are the real
 * ones, so what a test sees in a fake is what the real code sent. Every fake writes what happens to it to one shared
 * log, so a test can see the order in which the app used and closed them.
 */

/** A `pg` pool in front of an empty database: `SELECT 1` answers, every other query finds no rows. */
export class FakePool {
  readonly queries: Array<{ text: string; values?: unknown[] }> = [];
  connects = 0;
  /** Read by the pool gauge on `/metrics`. */
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  /** When set, every query (and `connect`) fails with it, as when the server cannot be reached. */
  failure?: Error;

  constructor(
    private readonly log: string[] = [],
    private readonly name = 'pool',
  ) {}

  query(
    textOrConfig: string | { text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<{ rows: unknown[]; rowCount: number }> {
    const query = typeof textOrConfig === 'string' ? { text: textOrConfig, values } : textOrConfig;
    this.queries.push(query);
    if (this.failure) return Promise.reject(this.failure);
    return Promise.resolve(
      query.text.trim() === 'SELECT 1' ? { rows: [{ '?column?': 1 }], rowCount: 1 } : { rows: [], rowCount: 0 },
    );
  }

  /** Transactions need a server: a fake pool lends no clients. */
  connect(): Promise<never> {
    this.connects += 1;
    return Promise.reject(this.failure ?? new Error('FakePool lends no clients (no transactions in module tests)'));
  }

  on(): this {
    return this;
  }

  end(): Promise<void> {
    this.log.push(`${this.name}: end`);
    return Promise.resolve();
  }
}

function inRange(score: number, min: number | string, max: number | string): boolean {
  const bound = (b: number | string) => (b === '-inf' ? -Infinity : b === '+inf' ? Infinity : Number(b));
  return score >= bound(min) && score <= bound(max);
}

/**
 * The commands of an ioredis `Cluster` the tested paths use: GET, SET (NX, XX; EX and PX are accepted and not
 * enforced: tests do not outlive them), DEL, PING, and the sorted-set commands of the worker group
 * (`WorkerMembership`). Lua commands are defined (recorded) but not run. A command it lacks fails as
 * "not a function".
 */
export class FakeRedis {
  status: 'ready' | 'end' = 'ready';
  readonly data = new Map<string, string>();
  /** Names of the Lua commands the stores defined (`KvCache`, `LoginThrottle`). */
  readonly scripts: string[] = [];
  /** Sorted sets: key → member → score. */
  readonly sortedSets = new Map<string, Map<string, number>>();

  constructor(private readonly log: string[] = []) {}

  defineCommand(name: string): void {
    this.scripts.push(name);
  }

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.data.get(key) ?? null);
  }

  set(key: string, value: string, ...args: Array<string | number>): Promise<'OK' | null> {
    const flags = new Set(args.map((a) => String(a).toUpperCase()));
    const exists = this.data.has(key);
    if ((flags.has('NX') && exists) || (flags.has('XX') && !exists)) return Promise.resolve(null);
    this.data.set(key, value);
    return Promise.resolve('OK');
  }

  del(...keys: string[]): Promise<number> {
    return Promise.resolve(keys.filter((k) => this.data.delete(k)).length);
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

/** A channel wrapper that never gets a channel: its setup never runs, as while the broker is away. */
export class FakeChannelWrapper extends EventEmitter {
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

/** An amqp-connection-manager connection: records the channels opened on it; `connected` is what health reports. */
export class FakeAmqpConnection extends EventEmitter {
  connected = true;
  readonly channels: FakeChannelWrapper[] = [];

  constructor(private readonly log: string[] = []) {
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

export interface FakeClients {
  /** What happened to the fakes, in order. */
  log: string[];
  writePool: FakePool;
  /** For an app whose `RuntimeModule` has a read pool: add one, `new FakePool(log, 'read pool')`. */
  readPool?: FakePool;
  redis: FakeRedis;
  amqp: FakeAmqpConnection;
}

export function fakeClients(): FakeClients {
  const log: string[] = [];
  return {
    log,
    writePool: new FakePool(log, 'write pool'),
    redis: new FakeRedis(log),
    amqp: new FakeAmqpConnection(log),
  };
}

/** Replaces every client `RuntimeModule` would connect (the pools, the Redis cluster, the AMQP connection). */
export function overrideClients(builder: TestingModuleBuilder, fakes: FakeClients): TestingModuleBuilder {
  const overridden = builder
    .overrideProvider(WRITE_POOL)
    .useValue(fakes.writePool)
    .overrideProvider(REDIS)
    .useValue(fakes.redis)
    .overrideProvider(AMQP)
    .useValue(fakes.amqp);
  return fakes.readPool ? overridden.overrideProvider(READ_POOL).useValue(fakes.readPool) : overridden;
}
