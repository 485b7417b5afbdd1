import { DomainError, ErrorCode, type ChangeHead } from '@keyflow/contracts';

/** A revision as a client sends it: a whole number, 0 meaning "before the first change". */
const REVISION = /^(0|[1-9][0-9]{0,14})$/;

function parseRevision(text: string, name: string): number {
  const trimmed = text.trim();
  if (!REVISION.test(trimmed)) {
    throw new DomainError(
      ErrorCode.INVALID_REQUEST,
      `${name} must be a revision: a whole number from 0 (the id of an event this stream sent), not ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return Number(trimmed);
}

/**
 * The revision a watch resumes after, if any: `Last-Event-ID` (what an `EventSource` sends when it reconnects), else
 * `?fromRevision=`; both mean "every change after this revision". `Last-Event-ID` wins because a browser reconnects
 * to the URL it first opened, `fromRevision` included. An empty `Last-Event-ID` is no id (the SSE spec's reset).
 */
export function resumeRevision(lastEventId: string | undefined, fromRevision: string | undefined): number | undefined {
  if (lastEventId !== undefined && lastEventId.trim() !== '') return parseRevision(lastEventId, 'Last-Event-ID');
  if (fromRevision !== undefined) return parseRevision(fromRevision, 'fromRevision');
  return undefined;
}

/**
 * One change as a Server-Sent Event: `event: put|delete|expire`, `id: <revision>`, and one `data:` line of JSON
 * `{"key","version","value"?,"revision","updatedAt"}`. `valueJson` is the stored value's JSON text, spliced in as it
 * is (the worker wrote it with `JSON.stringify`, so it has no line break; one that did is parsed and re-serialised,
 * since a line break would end the `data:` field).
 */
export function changeEvent(
  change: Pick<ChangeHead, 'kind' | 'key' | 'version' | 'updatedAt'>,
  revision: number,
  valueJson?: string,
): string {
  const value =
    change.kind !== 'put'
      ? ''
      : `,"value":${/[\r\n]/.test(valueJson ?? '') ? JSON.stringify(JSON.parse(valueJson ?? 'null')) : valueJson || 'null'}`;
  const data = `{"key":${JSON.stringify(change.key)},"version":${change.version}${value},"revision":${revision},"updatedAt":${JSON.stringify(change.updatedAt)}}`;
  return `event: ${change.kind}\nid: ${revision}\ndata: ${data}\n\n`;
}

/** A comment line: ignored by clients, it keeps an idle stream's connection (and every proxy on the way) alive. */
export const HEARTBEAT = ': ping\n\n';

/** Sent first: tells an `EventSource` how long to wait before reconnecting (ms), and flushes the headers. */
export function streamPreamble(retryMs: number): string {
  return `retry: ${retryMs}\n: watching\n\n`;
}
