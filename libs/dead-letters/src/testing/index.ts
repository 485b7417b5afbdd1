export * from './fake-dead-letter-queue';
export * from './fake-replay-store';
