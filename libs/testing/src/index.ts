export * from './poll-until.util';
export * from './process.util';
export * from './repo-root.util';
export * from './stack-contract';
export * from './stack-control';
export * from './test-database.util';
export * from './process-errors.util';
export * from './gateway-client.util';
