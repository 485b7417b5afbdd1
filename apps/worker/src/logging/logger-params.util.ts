import type { Params } from 'nestjs-pino';
import type { Level } from 'pino';
import type { WorkerConfig } from '../config/worker.config';

/** Nest's level names (the `LOG_LEVEL` setting) as pino's. */
const PINO_LEVELS: Record<WorkerConfig['LOG_LEVEL'], Level> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * The worker's pino logger (through nestjs-pino, as the API's): one JSON object a line on stdout, with the instance
 * as a base field. The worker serves no Nest HTTP routes, so no request middleware is applied.
 */
export function workerLoggerParams(config: Pick<WorkerConfig, 'KEYFLOW_INSTANCE' | 'LOG_LEVEL'>): Params {
  return {
    pinoHttp: {
      level: PINO_LEVELS[config.LOG_LEVEL],
      base: { instance: config.KEYFLOW_INSTANCE },
    },
  };
}
