/**
 * Every error a lib or service raises on purpose carries one of these codes. The API's problem filter maps
 * codes to HTTP statuses; the worker maps them to ack / retry / dead-letter. Nothing below the controllers
 * knows about HTTP.
 */
export enum ErrorCode {
  INVALID_KEY = 'invalid-key',
  INVALID_REQUEST = 'invalid-request',
  /** The request body is not JSON (or not UTF-8). */
  MALFORMED_JSON = 'malformed-json',
  /** JSON that keyflow cannot store faithfully: see `describeUnstorableJson`. */
  INVALID_VALUE = 'invalid-value',
  VALUE_TOO_LARGE = 'value-too-large',
  KEY_NOT_FOUND = 'key-not-found',
  PRECONDITION_FAILED = 'precondition-failed',
  IDEMPOTENCY_KEY_REUSED = 'idempotency-key-reused',
  WRITE_FAILED = 'write-failed',
  OPERATION_NOT_FOUND = 'operation-not-found',
  BROKER_UNAVAILABLE = 'broker-unavailable',
  DATABASE_UNAVAILABLE = 'database-unavailable',
  MALFORMED_MESSAGE = 'malformed-message',
  SCHEMA_MISMATCH = 'schema-mismatch',
  UNAUTHENTICATED = 'unauthenticated',
  FORBIDDEN = 'forbidden',
  RATE_LIMITED = 'rate-limited',
  USER_EXISTS = 'user-exists',
  TOKEN_NOT_FOUND = 'token-not-found',
  AUTH_UNAVAILABLE = 'auth-unavailable',
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/**
 * A write that can never be applied, however often it is retried: a message that is not a valid write
 * (`MALFORMED_MESSAGE`), a value keyflow cannot store as it was sent (`INVALID_VALUE`), or a write the database
 * refuses for good (`WRITE_FAILED`). A worker dead-letters such a write at once and alone: it is not retried, does
 * not count against other writes, and does not split the rest of its batch. `context` carries what could be read
 * of the write (`operationId`, `key`, `type`, `acceptedAt`), so that its operation can still be recorded `failed`.
 */
export class NonRetryableWriteError extends DomainError {
  constructor(
    code: ErrorCode.MALFORMED_MESSAGE | ErrorCode.INVALID_VALUE | ErrorCode.WRITE_FAILED,
    message: string,
    context: Record<string, unknown> = {},
  ) {
    super(code, message, context);
    this.name = 'NonRetryableWriteError';
  }
}
