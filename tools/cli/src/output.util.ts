import type { Entry, ListItem, ProblemDocument, WatchEvent, WriteResult } from '@keyflow/client';

/** Where a command prints: results on `out` (stdout), progress and problems on `err` (stderr). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** A key as `get` prints it: the whole entry as JSON, or for people a header line and the value, indented. */
export function formatEntry(entry: Entry, json: boolean): string {
  if (json) return JSON.stringify(entry);
  const expiry = entry.expiresAt ? `, expires ${entry.expiresAt}` : '';
  return `${entry.key}  (version ${entry.version}, updated ${entry.updatedAt}${expiry})\n${JSON.stringify(entry.value, null, 2)}`;
}

/** A listed key: one JSON line, or `key  v3  <value on one line>` (values longer than a line are cut). */
export function formatListItem(entry: Pick<ListItem, 'key'> & Partial<ListItem>, json: boolean): string {
  if (json) return JSON.stringify(entry);
  const version = entry.version !== undefined ? `  v${entry.version}` : '';
  if (!('value' in entry)) return `${entry.key}${version}`;
  const value = JSON.stringify(entry.value) ?? 'undefined';
  return `${entry.key}${version}  ${value.length > 100 ? `${value.slice(0, 99)}…` : value}`;
}

/** What a write answered: accepted (202), applied (200, 201), deleted (204); as JSON, the API's own answer. */
export function formatWrite(result: WriteResult, json: boolean): string {
  const { key } = result;
  switch (result.status) {
    case 'accepted':
      return json
        ? JSON.stringify({ operationId: result.operationId, key, status: 'accepted' })
        : `accepted: ${key} (operation ${result.operationId}; --wait <s> to wait until it is applied)`;
    case 'applied':
      if (json)
        return JSON.stringify({ operationId: result.operationId, key, status: 'applied', version: result.version });
      return `${result.created ? 'created' : 'applied'}: ${key} at version ${result.version}`;
    case 'deleted':
      return json ? JSON.stringify({ key, status: 'applied' }) : `deleted: ${key}`;
  }
}

/** A watch event: one JSON line `{"event", …data}`, or `put user:42 v4 {"name":"Ada"}`. */
export function formatEvent({ kind, ...data }: WatchEvent, json: boolean): string {
  if (json) return JSON.stringify({ event: kind, ...data });
  const value = data.value !== undefined ? ` ${JSON.stringify(data.value)}` : '';
  return `${kind} ${data.key} v${data.version}${value}`;
}

/** An error answer: one line for people (`keyflow: <detail> (HTTP 404)`), or the problem document as JSON. */
export function formatProblem(problem: ProblemDocument, json: boolean): string {
  if (json) return JSON.stringify(problem);
  return `keyflow: ${problem.detail} (HTTP ${problem.status}${problem.title ? ` ${problem.title}` : ''})`;
}

/** 12,345 */
export const count = (n: number): string => n.toLocaleString('en-US');

/**
 * Progress on stderr for long runs: a line every `every` items and one at the end, with the rate. Silent when
 * `quiet`. `now` is a parameter for tests.
 */
export class Progress {
  private readonly started: number;
  private done = 0;
  private lastReported = 0;

  constructor(
    private readonly what: string,
    private readonly output: Output,
    private readonly options: { every?: number; total?: number; quiet?: boolean; now?: () => number } = {},
  ) {
    this.started = this.now();
  }

  add(n: number): void {
    this.done += n;
    const every = this.options.every ?? 10_000;
    if (Math.floor(this.done / every) > Math.floor(this.lastReported / every)) {
      this.lastReported = this.done;
      this.report(
        `${this.what}: ${count(this.done)}${this.options.total !== undefined ? ` of ${count(this.options.total)}` : ''}`,
      );
    }
  }

  /** The closing line: how many, how long, how fast, and `tail` (what became of them). */
  finish(tail = ''): void {
    const seconds = (this.now() - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(this.done / seconds) : this.done;
    this.report(`${this.what}: ${count(this.done)} in ${seconds.toFixed(1)} s (${count(rate)}/s)${tail}`, true);
  }

  get count(): number {
    return this.done;
  }

  private report(line: string, last = false): void {
    if (this.options.quiet) return;
    if (!last) {
      const seconds = (this.now() - this.started) / 1000;
      const rate = seconds > 0 ? Math.round(this.done / seconds) : this.done;
      this.output.err(`${line} (${count(rate)}/s)`);
    } else this.output.err(line);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
