/** A key is 1–512 bytes of UTF-8 with no control characters. */
export const MAX_KEY_BYTES = 512;
/** A value is at most 1 MiB once serialised as JSON. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/**
 * A value nests arrays and objects at most 64 deep (`[[1]]` is 2 deep). Deeper values are refused before they
 * are parsed: each level costs stack in every JSON parser and serialiser on the way (the API's, the worker's,
 * PostgreSQL's), and 64 is what .NET's System.Text.Json allows by default.
 */
export const MAX_VALUE_DEPTH = 64;

export const OPERATION_TYPES = ['put', 'delete'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

/**
 * accepted: confirmed into a quorum queue, not applied yet.
 * applied: committed to the database (and the cache updated).
 * conflict: a conditional write whose condition did not hold when it was applied; nothing was written.
 * failed: dead-lettered; `error` says why. Nothing was written.
 */
export const OPERATION_STATUSES = ['accepted', 'applied', 'conflict', 'failed'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
