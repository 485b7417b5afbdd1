/** Injection tokens for clients that have no class of their own to inject by (built by `RuntimeModule`). */
export const WRITE_POOL = Symbol('WRITE_POOL');
/** Only where `RuntimeModule` was given a read pool (the API's replicas). */
export const READ_POOL = Symbol('READ_POOL');
export const REDIS = Symbol('REDIS');
export const AMQP = Symbol('AMQP');
