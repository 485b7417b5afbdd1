import type { TestingModuleBuilder } from '@nestjs/testing';
import type { WriteMessage } from '@keyflow/contracts';
import { WritePublisher } from '@keyflow/messaging';
import { type FakeClients, fakeClients, FakePool, overrideClients } from '@keyflow/runtime/testing';

/**
 * The API's infrastructure for module tests of its real module graph: the runtime's fake clients (pools, Redis,
 * broker connection; see `@keyflow/runtime/testing`) and a write publisher whose broker confirms at once. The
 * repositories, caches and stores made from the clients are the real ones.
 */

/** A `WritePublisher` whose broker confirms every write at once; what was published is kept in order. */
export class FakeWritePublisher implements Pick<WritePublisher, 'publish' | 'waitForConnect' | 'close'> {
  readonly published: Array<{ message: WriteMessage; options: { replyTo?: string; valueJson?: string } }> = [];

  constructor(private readonly log: string[]) {}

  publish(message: WriteMessage, options: { replyTo?: string; valueJson?: string } = {}): Promise<void> {
    this.published.push({ message, options });
    return Promise.resolve();
  }

  waitForConnect(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.log.push('publisher: close');
    return Promise.resolve();
  }
}

export interface FakeInfrastructure extends FakeClients {
  readPool: FakePool;
  publisher: FakeWritePublisher;
}

export function fakeInfrastructure(): FakeInfrastructure {
  const clients = fakeClients();
  return {
    ...clients,
    readPool: new FakePool(clients.log, 'read pool'),
    publisher: new FakeWritePublisher(clients.log),
  };
}

/** The runtime's clients and the write publisher (whose confirms need a broker) replaced by the fakes. */
export function overrideInfrastructure(builder: TestingModuleBuilder, fakes: FakeInfrastructure): TestingModuleBuilder {
  return overrideClients(builder, fakes).overrideProvider(WritePublisher).useValue(fakes.publisher);
}
