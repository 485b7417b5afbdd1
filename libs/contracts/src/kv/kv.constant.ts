/** A key is 1–512 bytes of UTF-8 with no control characters. */
export const MAX_KEY_BYTES = 512;
/** A value is at most 1 MiB once serialised as JSON. */
export const MAX_VALUE_BYTES = 1024 * 1024;

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
