export * from './db-error.util';
export * from './kv/kv.repository';
export * from './migrations/migration.service';
export * from './operations/operation.repository';
export * from './pool.util';
export * from './transaction.util';
export * from './users/user.repository';
export * from './backup/backup.repository';
