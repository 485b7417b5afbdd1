export * from './dead-letter-queue.service';
export * from './dead-letter.util';
export * from './dlq.service';
export * from './replay-decision.util';
export * from './replay-store.service';
