import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import {
  AmqpDeadLetterQueue,
  type DeadLetter,
  type DeadLetterQueue,
  DlqService,
  type ReplayStore,
} from '@keyflow/dead-letters';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

/** Opens the queue for one command; the specs give an in-memory one. */
export const DEAD_LETTER_QUEUE_FACTORY = Symbol('DEAD_LETTER_QUEUE_FACTORY');
export type DeadLetterQueueFactory = () => Promise<DeadLetterQueue>;
/** What a replay reads and records in the database (`DbReplayStore` on the primary). */
export const REPLAY_STORE = Symbol('REPLAY_STORE');

export interface ReplayOutcome {
  result: 'replayed' | 'settled' | 'refused' | 'failed';
  messages: string[];
}

/**
 * The dead letters through the API, for the console's cluster page: the same `DlqService` as `npm run dlq`, on a
 * connection of its own per call (letters a call holds go back to the queue, in order, when it closes). One call at a
 * time per instance: two scans at once would each miss the letters the other holds.
 */
@Injectable()
export class DeadLettersService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(DEAD_LETTER_QUEUE_FACTORY) private readonly open: DeadLetterQueueFactory,
    @Inject(REPLAY_STORE) private readonly store: ReplayStore,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  list(offset: number, limit: number): Promise<{ total: number; offset: number; items: DeadLetter[] }> {
    return this.serialised(async (queue) => {
      const lines: string[] = [];
      const service = new DlqService(
        queue,
        undefined,
        { log: (l) => lines.push(l), error: () => undefined },
        this.config.KV_SHARDS,
      );
      const total = await queue.size();
      await service.list({ offset, limit, json: true });
      return { total, offset, items: JSON.parse(lines.join('\n')) as DeadLetter[] };
    });
  }

  /** Replays the letter of one operation, if `decideReplay` allows it (never forced from here). */
  replay(operationId: string): Promise<ReplayOutcome> {
    return this.serialised(async (queue) => {
      const logs: string[] = [];
      const errors: string[] = [];
      const service = new DlqService(
        queue,
        this.store,
        { log: (l) => logs.push(l), error: (l) => errors.push(l) },
        this.config.KV_SHARDS,
      );
      await service.replay({ ids: new Set([operationId]), all: false, force: false });
      if (errors.some((e) => e.startsWith('no dead letter for operation'))) {
        throw new DomainError(ErrorCode.OPERATION_NOT_FOUND, `no dead letter for operation ${operationId}`);
      }
      // The summary line counts what happened to the one letter: "1 replayed, 0 already settled, 0 refused".
      const summary = logs.at(-1) ?? '';
      const count = (word: string): number => Number(new RegExp(`(\\d+) ${word}`).exec(summary)?.[1] ?? 0);
      const result = count('replayed')
        ? 'replayed'
        : count('already settled')
          ? 'settled'
          : count('refused')
            ? 'refused'
            : 'failed';
      return { result, messages: [...errors, ...logs] };
    });
  }

  private serialised<T>(work: (queue: DeadLetterQueue) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      let queue: DeadLetterQueue;
      try {
        queue = await this.open();
      } catch (err) {
        throw new DomainError(ErrorCode.BROKER_UNAVAILABLE, `the broker cannot be reached: ${(err as Error).message}`, {
          retryAfterSeconds: 1,
        });
      }
      try {
        return await work(queue);
      } finally {
        await queue.close();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** The broker's URLs in turn (the API's AMQP_URL may list several): the first that accepts the connection. */
export function amqpDeadLetterQueueFactory(config: ApiConfig): DeadLetterQueueFactory {
  return async () => {
    let last: unknown = new Error('no AMQP_URL');
    for (const url of config.AMQP_URL) {
      try {
        return await AmqpDeadLetterQueue.open(url);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
}
