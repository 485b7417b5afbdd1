/** The clients' tokens live with the module that provides them; kept here for the files that import them from here. */
export { AMQP, REDIS, WRITE_POOL } from '@keyflow/runtime';
