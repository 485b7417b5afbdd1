import { EventEmitter } from 'node:events';
import type { TestingModuleBuilder } from '@nestjs/testing';
import type { WriteMessage } from '@keyflow/contracts';
import { WritePublisher } from '@keyflow/messaging';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from '../infrastructure/infrastructure.tokens';

/**
 * In-process stand-ins for the clients `InfrastructureModule` builds (no network, no servers), for module tests
 * that build the API's real module graph. Only the clients are replaced: the repositories, caches and stores made
 * from them are the real ones, so what a test sees in a fake is what the real code sent.
 */

/** A `pg` pool in front of an empty database: `SELECT 1` answers, every other query finds no rows. */
export class FakePool {
  readonly queries: Array<{ text: string; values?: unknown[] }> = [];
  /** Read by the pool gauge on `/metrics`. */
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  /** When set, every query fails with it, as when the server cannot be reached. */
  failure?: Error;

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
    return Promise.reject(this.failure ?? new Error('FakePool lends no clients (no transactions in module tests)'));
  }

  on(): this {
    return this;
  }

  end(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The commands of an ioredis `Cluster` the tested paths use, over a map: GET, SET (NX, XX; EX and PX are
 * accepted and not enforced: tests do not outlive them), DEL and PING. Lua commands are defined but not run.
 * A command it lacks fails as "not a function".
 */
export class FakeRedis {
  status: 'ready' | 'end' = 'ready';
  readonly data = new Map<string, string>();
  /** Names of the Lua commands the stores defined (`KvCache`, `LoginThrottle`). */
  readonly scripts: string[] = [];

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

  disconnect(): void {
    this.status = 'end';
  }
}

/** A channel wrapper that never gets a channel: its setup never runs, as while the broker is away. */
class FakeChannelWrapper extends EventEmitter {
  publish(): Promise<boolean> {
    return Promise.reject(new Error('FakeAmqpConnection has no broker to publish to'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** An amqp-connection-manager connection: records the channels opened on it; `connected` is what health reports. */
export class FakeAmqpConnection extends EventEmitter {
  connected = true;
  readonly channels: Array<{ name?: string; wrapper: FakeChannelWrapper }> = [];

  isConnected(): boolean {
    return this.connected;
  }

  createChannel(options: { name?: string } = {}): FakeChannelWrapper {
    const wrapper = new FakeChannelWrapper();
    this.channels.push({ name: options.name, wrapper });
    return wrapper;
  }

  close(): Promise<void> {
    this.connected = false;
    return Promise.resolve();
  }
}

/** A `WritePublisher` whose broker confirms every write at once; what was published is kept in order. */
export class FakeWritePublisher implements Pick<WritePublisher, 'publish' | 'waitForConnect' | 'close'> {
  readonly published: Array<{ message: WriteMessage; options: { replyTo?: string; valueJson?: string } }> = [];

  publish(message: WriteMessage, options: { replyTo?: string; valueJson?: string } = {}): Promise<void> {
    this.published.push({ message, options });
    return Promise.resolve();
  }

  waitForConnect(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface FakeInfrastructure {
  writePool: FakePool;
  readPool: FakePool;
  redis: FakeRedis;
  amqp: FakeAmqpConnection;
  publisher: FakeWritePublisher;
}

export function fakeInfrastructure(): FakeInfrastructure {
  return {
    writePool: new FakePool(),
    readPool: new FakePool(),
    redis: new FakeRedis(),
    amqp: new FakeAmqpConnection(),
    publisher: new FakeWritePublisher(),
  };
}

/**
 * Replaces every client `InfrastructureModule` would connect (the pools, the Redis cluster, the AMQP connection)
 * and the write publisher (whose confirms need a broker) with the fakes.
 */
export function overrideInfrastructure(builder: TestingModuleBuilder, fakes: FakeInfrastructure): TestingModuleBuilder {
  return builder
    .overrideProvider(WRITE_POOL)
    .useValue(fakes.writePool)
    .overrideProvider(READ_POOL)
    .useValue(fakes.readPool)
    .overrideProvider(REDIS)
    .useValue(fakes.redis)
    .overrideProvider(AMQP)
    .useValue(fakes.amqp)
    .overrideProvider(WritePublisher)
    .useValue(fakes.publisher);
}
