import { HttpException, HttpStatus } from '@nestjs/common';
import { DomainError, type DomainErrorFacts, ErrorCode } from '@keyflow/contracts';
import { isTransientDbError } from '@keyflow/db';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: string[];
  [extension: string]: unknown;
}

const PROBLEM_BASE = 'https://keyflow.dev/problems/';

const DOMAIN_STATUS: Record<ErrorCode, { status: number; title: string }> = {
  [ErrorCode.INVALID_KEY]: { status: HttpStatus.BAD_REQUEST, title: 'Invalid key' },
  [ErrorCode.INVALID_REQUEST]: { status: HttpStatus.BAD_REQUEST, title: 'Invalid request' },
  [ErrorCode.MALFORMED_JSON]: { status: HttpStatus.BAD_REQUEST, title: 'Malformed JSON' },
  [ErrorCode.INVALID_VALUE]: { status: HttpStatus.BAD_REQUEST, title: 'Invalid value' },
  [ErrorCode.VALUE_TOO_LARGE]: { status: HttpStatus.PAYLOAD_TOO_LARGE, title: 'Value too large' },
  [ErrorCode.KEY_NOT_FOUND]: { status: HttpStatus.NOT_FOUND, title: 'Key not found' },
  [ErrorCode.PRECONDITION_FAILED]: { status: HttpStatus.PRECONDITION_FAILED, title: 'Precondition failed' },
  [ErrorCode.IDEMPOTENCY_KEY_REUSED]: { status: HttpStatus.UNPROCESSABLE_ENTITY, title: 'Idempotency key reused' },
  [ErrorCode.WRITE_FAILED]: { status: HttpStatus.UNPROCESSABLE_ENTITY, title: 'Write failed' },
  [ErrorCode.OPERATION_NOT_FOUND]: { status: HttpStatus.NOT_FOUND, title: 'Operation not found' },
  [ErrorCode.BROKER_UNAVAILABLE]: { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'Write path unavailable' },
  [ErrorCode.DATABASE_UNAVAILABLE]: { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'Database unavailable' },
  [ErrorCode.SCHEMA_MISMATCH]: { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'Database schema mismatch' },
  [ErrorCode.MALFORMED_MESSAGE]: { status: HttpStatus.INTERNAL_SERVER_ERROR, title: 'Internal error' },
  [ErrorCode.UNAUTHENTICATED]: { status: HttpStatus.UNAUTHORIZED, title: 'Unauthorized' },
  [ErrorCode.FORBIDDEN]: { status: HttpStatus.FORBIDDEN, title: 'Forbidden' },
  [ErrorCode.RATE_LIMITED]: { status: HttpStatus.TOO_MANY_REQUESTS, title: 'Too many requests' },
  [ErrorCode.USER_EXISTS]: { status: HttpStatus.CONFLICT, title: 'User exists' },
  [ErrorCode.TOKEN_NOT_FOUND]: { status: HttpStatus.NOT_FOUND, title: 'Token not found' },
  [ErrorCode.USER_NOT_FOUND]: { status: HttpStatus.NOT_FOUND, title: 'User not found' },
  [ErrorCode.AUTH_UNAVAILABLE]: { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'Sign-in unavailable' },
  [ErrorCode.REVISION_GONE]: { status: HttpStatus.GONE, title: 'Revision no longer retained' },
  [ErrorCode.WATCH_UNAVAILABLE]: { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'Watch unavailable' },
};

/**
 * Problem types for HTTP exceptions by status. Nest turns Fastify's own errors (raised before a route
 * handler runs: malformed JSON, body too large, unsupported media type) into plain HttpExceptions, so the
 * status and message are all there is to go on.
 */
const HTTP_TYPES: Record<number, string> = {
  400: 'invalid-request',
  404: 'not-found',
  405: 'method-not-allowed',
  413: 'body-too-large',
  415: 'unsupported-media-type',
};

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  409: 'Conflict',
  412: 'Precondition failed',
  413: 'Request body too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

function fromHttpException(exception: HttpException): Problem {
  const status = exception.getStatus();
  const response = exception.getResponse();
  const malformedJson = status === 400 && /JSON/.test(exception.message);
  const title = malformedJson ? 'Malformed JSON' : (STATUS_TITLES[status] ?? 'Error');
  const known = malformedJson ? 'malformed-json' : HTTP_TYPES[status];
  const type = known ? `${PROBLEM_BASE}${known}` : 'about:blank';
  if (typeof response === 'string') return { type, title, status, detail: response };
  const body = response as Record<string, unknown>;
  const message = body.message;
  if (Array.isArray(message)) {
    const errors = message.map(String);
    return {
      type: `${PROBLEM_BASE}invalid-request`,
      title: 'Invalid request',
      status,
      detail: errors.join('; '),
      errors,
    };
  }
  // Extra fields (for example a readiness report's per-dependency details) travel as extensions.
  const { message: _m, error: _e, statusCode: _s, ...extensions } = body;
  return {
    ...extensions,
    type,
    title,
    status,
    detail: typeof message === 'string' ? message : exception.message,
  };
}

function isFastifyClientError(exception: unknown): exception is Error & { code: string; statusCode: number } {
  if (!(exception instanceof Error)) return false;
  const { code, statusCode } = exception as { code?: unknown; statusCode?: unknown };
  return typeof code === 'string' && code.startsWith('FST_') && typeof statusCode === 'number' && statusCode < 500;
}

/** The realm a `WWW-Authenticate` challenge names: one for the whole API. */
const BEARER_CHALLENGE = 'Bearer realm="keyflow"';

/**
 * What a domain error's facts become on the wire. Only these facts are shown: the rest (a write's key, the cause
 * underneath, schema versions) are for logs and the worker.
 */
function problemMembers(facts: DomainErrorFacts): Record<string, unknown> {
  return {
    ...(facts.operationId !== undefined ? { operationId: facts.operationId } : {}),
    ...(facts.currentVersion !== undefined ? { currentVersion: facts.currentVersion } : {}),
  };
}

/** Response headers a domain error's facts call for: Retry-After on 429 and 503, the challenge on 401. */
function responseHeaders(facts: DomainErrorFacts): Record<string, string> | undefined {
  const headers: Record<string, string> = {
    ...(facts.retryAfterSeconds !== undefined ? { 'retry-after': String(facts.retryAfterSeconds) } : {}),
    ...(facts.challenge === 'bearer' ? { 'www-authenticate': BEARER_CHALLENGE } : {}),
  };
  return Object.keys(headers).length ? headers : undefined;
}

/**
 * Maps anything thrown while serving a request to RFC 9457 problem details. Domain errors by code, Nest's
 * HTTP exceptions (Fastify's pre-handler errors included) by status. Anything else is an opaque 500 whose
 * detail says nothing about internals; the caller logs it with the request id.
 */
export function toProblem(exception: unknown): {
  problem: Problem;
  unexpected: boolean;
  headers?: Record<string, string>;
} {
  if (exception instanceof DomainError) {
    const { status, title } = DOMAIN_STATUS[exception.code];
    // Only a bug reaches a 500 through a domain error: its message is internal and is not shown.
    const unexpected = status === 500;
    const extensions = unexpected ? {} : problemMembers(exception.details);
    return {
      problem: {
        type: `${PROBLEM_BASE}${exception.code}`,
        title,
        status,
        detail: unexpected ? 'internal error' : exception.message,
        ...extensions,
      },
      unexpected,
      headers: unexpected ? undefined : responseHeaders(exception.details),
    };
  }
  if (exception instanceof HttpException) return { problem: fromHttpException(exception), unexpected: false };
  // Fastify's own client errors that reach us directly rather than through Nest (routing errors raised before
  // any hook, see `frameworkErrorHandler`): by status and message, as Nest would map them.
  if (isFastifyClientError(exception)) {
    return {
      problem: fromHttpException(new HttpException(exception.message, exception.statusCode)),
      unexpected: false,
    };
  }
  // A database connection cut or refused (a failover, HAProxy marking the primary down) on a path that has no
  // better answer of its own: the client may retry, so it is a 503, not a 500.
  if (isTransientDbError(exception)) {
    return {
      problem: {
        type: `${PROBLEM_BASE}${ErrorCode.DATABASE_UNAVAILABLE}`,
        title: DOMAIN_STATUS[ErrorCode.DATABASE_UNAVAILABLE].title,
        status: HttpStatus.SERVICE_UNAVAILABLE,
        detail: 'the database is unavailable for a moment; retry shortly',
      },
      unexpected: false,
      headers: { 'retry-after': '1' },
    };
  }
  return {
    problem: {
      type: 'about:blank',
      title: 'Internal error',
      status: 500,
      detail: 'an unexpected error occurred; quote the requestId when reporting it',
    },
    unexpected: true,
  };
}
