/** Injection tokens for clients that have no class of their own to inject by. */
export const WRITE_POOL = Symbol('WRITE_POOL');
export const READ_POOL = Symbol('READ_POOL');
export const REDIS = Symbol('REDIS');
export const AMQP = Symbol('AMQP');
