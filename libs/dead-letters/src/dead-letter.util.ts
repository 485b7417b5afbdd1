import type { ConsumeMessage } from 'amqplib';
import { DEAD_LETTER_HEADERS, isRequestId } from '@keyflow/contracts';

/** One dead letter as an operator sees it. */
export interface DeadLetter {
  operationId?: string;
  key?: string;
  type?: string;
  /** When the API accepted the write (ISO), if the body says so validly. */
  acceptedAt?: string;
  /**
   * The HTTP request that made the write (`X-Request-Id`), when its body names one: `npm run logs -- --request <id>`
   * shows what the gateway, the API and the worker logged of it. A replay publishes the body as it is, so the replayed
   * write is logged under the same id.
   */
  requestId?: string;
  reason: string;
  fromQueue?: string;
  deadLetteredAt?: string;
  bytes: number;
}

interface XDeath {
  reason?: string;
  queue?: string;
  time?: { value?: number } | number;
}

/** AMQP header values arrive as strings, or as Buffers for long strings. */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

export function describeDeadLetter(message: Pick<ConsumeMessage, 'content' | 'properties'>): DeadLetter {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(message.content.toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON; shown by size only.
  }
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const death = (Array.isArray(headers['x-death']) ? (headers['x-death'] as XDeath[])[0] : undefined) ?? {};
  const time = typeof death.time === 'number' ? death.time : death.time?.value;
  // A write a worker took out of a batch message and published itself says so in its own headers.
  const byWorker = {
    reason: text(headers[DEAD_LETTER_HEADERS.reason]),
    queue: text(headers[DEAD_LETTER_HEADERS.queue]),
    at: text(headers[DEAD_LETTER_HEADERS.at]),
  };
  const fromQueue = byWorker.queue ?? text(headers['x-first-death-queue']) ?? death.queue;
  const deadLetteredAt =
    byWorker.at !== undefined && !Number.isNaN(Date.parse(byWorker.at))
      ? new Date(byWorker.at).toISOString()
      : time
        ? new Date(time * 1000).toISOString()
        : undefined;
  const acceptedAt = typeof body.acceptedAt === 'string' ? Date.parse(body.acceptedAt) : Number.NaN;
  return {
    ...(typeof body.id === 'string' ? { operationId: body.id } : {}),
    ...(typeof body.key === 'string' ? { key: body.key } : {}),
    ...(typeof body.type === 'string' ? { type: body.type } : {}),
    ...(Number.isNaN(acceptedAt) ? {} : { acceptedAt: new Date(acceptedAt).toISOString() }),
    ...(isRequestId(body.requestId) ? { requestId: body.requestId } : {}),
    reason: byWorker.reason ?? text(headers['x-first-death-reason']) ?? death.reason ?? 'unknown',
    ...(fromQueue ? { fromQueue } : {}),
    ...(deadLetteredAt ? { deadLetteredAt } : {}),
    bytes: message.content.length,
  };
}

/** A fixed-width table for the terminal; rows are numbered from `first` (a page's place in the queue). */
export function formatTable(letters: DeadLetter[], first = 1): string {
  if (letters.length === 0) return 'the dead-letter queue is empty';
  const rows = letters.map((l, i) => [
    String(first + i),
    l.operationId ?? '(none)',
    l.type ?? '?',
    l.key === undefined ? '(unreadable)' : l.key.length > 40 ? `${l.key.slice(0, 37)}...` : l.key,
    l.acceptedAt ?? '?',
    l.reason,
    l.fromQueue ?? '?',
    l.deadLetteredAt ?? '?',
  ]);
  const header = ['#', 'operation', 'type', 'key', 'accepted at', 'reason', 'from', 'dead-lettered at'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
