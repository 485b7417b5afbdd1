import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { Level } from 'pino';
import type { LogLevel } from '../config/runtime-env.util';

/** Nest's level names (the `LOG_LEVEL` setting) as pino's. */
export const PINO_LEVELS: Record<LogLevel, Level> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/** Headers that carry credentials: never written to a log. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

export interface LoggerOptions {
  /** `KEYFLOW_INSTANCE`: a base field of every line. */
  instance: string;
  level: LogLevel;
  /** One access line per HTTP request. Off where the only callers are probes and scrapers (the worker). */
  accessLog: boolean;
}

function accessFields(req: IncomingMessage, res: ServerResponse, responseTime: number): Record<string, unknown> {
  return { method: req.method, url: req.url, status: res.statusCode, responseTime };
}

/**
 * A keyflow process's pino logger (through nestjs-pino): one JSON object a line on stdout, with the instance as a
 * base field. Every line logged while a request is handled carries `reqId`, the id Fastify took from the gateway's
 * `X-Request-Id` (or generated) — the same `requestId` an API problem document carries. With `accessLog`, each
 * request ends with one access line (method, url, status, responseTime); request headers are not logged, so no
 * credential is.
 */
export function loggerParams({ instance, level, accessLog }: LoggerOptions): Params {
  return {
    pinoHttp: {
      level: PINO_LEVELS[level],
      base: { instance },
      messageKey: 'msg',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      autoLogging: accessLog,
      // Fastify has already set the raw request's id (from X-Request-Id, else its own) before any middleware runs.
      genReqId: (req) => req.id ?? randomUUID(),
      // Lines carry `reqId` only, not the whole request (and its headers) on every line.
      quietReqLogger: true,
      quietResLogger: true,
      customSuccessObject: (req, res, val: { responseTime: number }) => accessFields(req, res, val.responseTime),
      // A 5xx is logged at error level; the exception itself (with its stack) is logged once by the app's filter.
      customErrorObject: (req, res, _err: Error, val: { responseTime: number }) =>
        accessFields(req, res, val.responseTime),
      customSuccessMessage: () => 'request completed',
      customErrorMessage: () => 'request failed',
    },
  };
}
