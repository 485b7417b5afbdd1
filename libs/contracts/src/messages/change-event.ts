/**
 * The change stream: a RabbitMQ stream (`CHANGE_STREAM`) to which workers publish every applied write, one message
 * per change, after the batch committed and before its write messages are acked. `GET /v1/watch` reads it; a
 * message's stream offset is the change's revision (`revisionOf`).
 *
 * A message is its headers plus, for a put, the stored value as JSON text (the body; empty otherwise), so that a
 * watcher filters by key and removes duplicates from the headers alone, and passes the value on without parsing it.
 */
export const CHANGE_STREAM = 'kv.changes';

/** What a change did: `expire` is the delete a worker published because the key's time to live ran out. */
export type ChangeKind = 'put' | 'delete' | 'expire';

export const CHANGE_KINDS: readonly ChangeKind[] = ['put', 'delete', 'expire'];

export interface Change {
  kind: ChangeKind;
  key: string;
  /** The version the write gave the key. */
  version: number;
  /** A put's value as JSON text, exactly as stored (and cached); absent for deletes and expiries. */
  valueJson?: string;
  /** When the batch that applied it committed (ISO timestamp); the same on every copy of the change. */
  updatedAt: string;
}

export const CHANGE_HEADERS = {
  kind: 'keyflow-change',
  key: 'keyflow-key',
  version: 'keyflow-version',
  updatedAt: 'keyflow-updated-at',
  /**
   * Set on a change that may already be in the stream: its write was found applied by an earlier delivery (the
   * worker died, or lost its channel, between the commit and the ack), or the publish is a retry. A watcher
   * delivers such a change only if no earlier message of the stream has the same key and version. A change
   * without it is published once, by the worker whose transaction applied it, on that worker's first try.
   */
  redo: 'keyflow-redo',
} as const;

/** The message of a change: AMQP headers and body. */
export function encodeChange(change: Change, redo: boolean): { headers: Record<string, unknown>; content: Buffer } {
  return {
    headers: {
      [CHANGE_HEADERS.kind]: change.kind,
      [CHANGE_HEADERS.key]: change.key,
      [CHANGE_HEADERS.version]: change.version,
      [CHANGE_HEADERS.updatedAt]: change.updatedAt,
      ...(redo ? { [CHANGE_HEADERS.redo]: true } : {}),
    },
    content: Buffer.from(change.kind === 'put' ? (change.valueJson ?? 'null') : '', 'utf8'),
  };
}

export interface ChangeHead {
  kind: ChangeKind;
  key: string;
  version: number;
  updatedAt: string;
  redo: boolean;
}

/** Reads a change's headers; `undefined` for a message that is not a change this release understands. */
export function decodeChangeHead(headers: Record<string, unknown> | undefined): ChangeHead | undefined {
  if (!headers) return undefined;
  const kind = headers[CHANGE_HEADERS.kind];
  const key = headers[CHANGE_HEADERS.key];
  const version = Number(headers[CHANGE_HEADERS.version]);
  const updatedAt = headers[CHANGE_HEADERS.updatedAt];
  if (typeof kind !== 'string' || !(CHANGE_KINDS as readonly string[]).includes(kind)) return undefined;
  if (typeof key !== 'string' || typeof updatedAt !== 'string') return undefined;
  if (!Number.isSafeInteger(version) || version < 1) return undefined;
  return { kind: kind as ChangeKind, key, version, updatedAt, redo: headers[CHANGE_HEADERS.redo] === true };
}

/**
 * A change's revision is its stream offset plus one, so that revisions start at 1 and "after revision 0" means the
 * whole retained history. Revisions grow in stream order, with gaps where a duplicate was left out.
 */
export function revisionOf(offset: number): number {
  return offset + 1;
}

/** The stream offset of the first change after `revision`. */
export function offsetAfter(revision: number): number {
  return revision;
}
