export * from './poll-until.util';
export * from './stack-control';
export * from './test-database.util';
