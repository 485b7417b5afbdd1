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
  USER_NOT_FOUND = 'user-not-found',
  AUTH_UNAVAILABLE = 'auth-unavailable',
  /** A watch asked to resume after a revision older than the change stream still holds: re-list, then watch. */
  REVISION_GONE = 'revision-gone',
  /** This API instance serves as many watchers as it may, or cannot reach the change stream. */
  WATCH_UNAVAILABLE = 'watch-unavailable',
}

/**
 * Facts an error states about what went wrong, in domain terms: never an HTTP header or status. Which facts an error
 * may carry depends on its code (`DomainErrorDetails`). The API's problem filter alone decides what they become on
 * the wire (problem members such as `operationId`, headers such as `Retry-After` or `WWW-Authenticate`); a worker
 * reads them to record a write it dead-letters.
 */
export interface DomainErrorFacts {
  /** The write operation the error is about; a client can follow it at `/v1/operations/{id}`. */
  operationId?: string;
  /** The key's version when a write's condition did not hold: 0 when the key does not exist. */
  currentVersion?: number;
  /** A retry may succeed after this many seconds (the outage is brief, or a limit resets). */
  retryAfterSeconds?: number;
  /** The credentials the caller is invited to present: an API token, as a bearer token. */
  challenge?: 'bearer';
  /** What could be read of a write that cannot be applied, so that its operation can still be recorded `failed`. */
  key?: string;
  type?: 'put' | 'delete';
  acceptedAt?: string;
  /** The message of the failure underneath, for logs; never shown to a client. */
  cause?: string;
  /** The database's schema version, and the one this build expects. */
  schemaVersion?: number;
  expectedSchemaVersion?: number;
}

/** What could be read of a write message: see `NonRetryableWriteError`. */
export type WriteFacts = Pick<DomainErrorFacts, 'operationId' | 'key' | 'type' | 'acceptedAt'>;

/** No facts: the code and the message say it all. */
type NoFacts = Record<string, never>;

/**
 * The facts each code may carry. Every code has an entry (`DomainError`'s constructor indexes this type by code,
 * so a new code without one does not compile); a code whose facts are all optional may be raised without any.
 */
export interface DomainErrorDetails {
  [ErrorCode.INVALID_KEY]: NoFacts;
  [ErrorCode.INVALID_REQUEST]: NoFacts;
  [ErrorCode.MALFORMED_JSON]: NoFacts;
  [ErrorCode.INVALID_VALUE]: WriteFacts;
  [ErrorCode.VALUE_TOO_LARGE]: NoFacts;
  [ErrorCode.KEY_NOT_FOUND]: NoFacts;
  [ErrorCode.PRECONDITION_FAILED]: Pick<DomainErrorFacts, 'operationId' | 'currentVersion'>;
  [ErrorCode.IDEMPOTENCY_KEY_REUSED]: Required<Pick<DomainErrorFacts, 'operationId'>>;
  [ErrorCode.WRITE_FAILED]: WriteFacts;
  [ErrorCode.OPERATION_NOT_FOUND]: NoFacts;
  [ErrorCode.BROKER_UNAVAILABLE]: Pick<DomainErrorFacts, 'operationId' | 'retryAfterSeconds' | 'cause'>;
  [ErrorCode.DATABASE_UNAVAILABLE]: Pick<DomainErrorFacts, 'operationId' | 'retryAfterSeconds'>;
  [ErrorCode.MALFORMED_MESSAGE]: WriteFacts;
  [ErrorCode.SCHEMA_MISMATCH]: Pick<DomainErrorFacts, 'schemaVersion' | 'expectedSchemaVersion'>;
  [ErrorCode.UNAUTHENTICATED]: Pick<DomainErrorFacts, 'challenge'>;
  [ErrorCode.FORBIDDEN]: NoFacts;
  [ErrorCode.RATE_LIMITED]: Required<Pick<DomainErrorFacts, 'retryAfterSeconds'>>;
  [ErrorCode.USER_EXISTS]: NoFacts;
  [ErrorCode.TOKEN_NOT_FOUND]: NoFacts;
  [ErrorCode.USER_NOT_FOUND]: NoFacts;
  [ErrorCode.AUTH_UNAVAILABLE]: Pick<DomainErrorFacts, 'retryAfterSeconds'>;
  [ErrorCode.REVISION_GONE]: NoFacts;
  [ErrorCode.WATCH_UNAVAILABLE]: Pick<DomainErrorFacts, 'retryAfterSeconds'>;
}

/** `new DomainError(code, message, details)`, the details checked against the code's entry in `DomainErrorDetails`. */
export type DomainErrorArgs = {
  [C in ErrorCode]: Record<never, never> extends DomainErrorDetails[C]
    ? [code: C, message: string, details?: DomainErrorDetails[C]]
    : [code: C, message: string, details: DomainErrorDetails[C]];
}[ErrorCode];

export class DomainError extends Error {
  readonly code: ErrorCode;
  /** Read as the facts any code may carry; `DomainErrorArgs` checks, when raised, that they fit the code. */
  readonly details: DomainErrorFacts;

  constructor(...[code, message, details = {}]: DomainErrorArgs) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

/**
 * A write that can never be applied, however often it is retried: a message that is not a valid write
 * (`MALFORMED_MESSAGE`), a value keyflow cannot store as it was sent (`INVALID_VALUE`), or a write the database
 * refuses for good (`WRITE_FAILED`). A worker dead-letters such a write at once and alone: it is not retried, does
 * not count against other writes, and does not split the rest of its batch. `details` carry what could be read
 * of the write (`operationId`, `key`, `type`, `acceptedAt`), so that its operation can still be recorded `failed`.
 */
export class NonRetryableWriteError extends DomainError {
  declare readonly details: WriteFacts;

  constructor(
    code: ErrorCode.MALFORMED_MESSAGE | ErrorCode.INVALID_VALUE | ErrorCode.WRITE_FAILED,
    message: string,
    details: WriteFacts = {},
  ) {
    super(code, message, details);
    this.name = 'NonRetryableWriteError';
  }
}
