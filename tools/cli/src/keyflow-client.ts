import { BACKUP_CONTENT_TYPE, BACKUP_KEYS_HEADER, BACKUP_SNAPSHOT_HEADER } from '@keyflow/contracts';
import { randomUUID } from 'node:crypto';
import { retryingFetch } from '@keyflow/client';
import { CliError } from './cli.exception';

/**
 * Every HTTP call the CLI makes, and nothing else: a later SDK generated from the OpenAPI document replaces this
 * file. Errors come back as `ApiError` with the service's RFC 9457 problem document, or as `CliError` when the
 * service could not be reached at all.
 */

/** An RFC 9457 problem document, as keyflow answers every error. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail: string;
  [member: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = 'ApiError';
  }
  get status(): number {
    return this.problem.status;
  }
}

export interface KvEntry {
  key: string;
  value: unknown;
  version: number;
  updatedAt: string;
  expiresAt?: string;
}

/** A write's answer: 202 accepted (`operationId`), 200/201 applied (`version`), 204 deleted (no body). */
export interface WriteAnswer {
  status: number;
  body: { operationId?: string; key?: string; status?: string; version?: number };
}

export interface WriteOptions {
  ifMatch?: string;
  ifNoneMatch?: boolean;
  /** `Prefer: wait=N`. */
  wait?: number;
}

export interface ListPage {
  items: KvEntry[];
  cursor: string | null;
}

export interface RestoreAnswer {
  received: number;
  restored: number;
  existing: number;
  expired: number;
}

export interface BackupStream {
  keys: number;
  snapshot: string;
  body: ReadableStream<Uint8Array>;
}

export interface CreatedToken {
  id: string;
  name: string;
  token: string;
  createdAt: string;
}

const path = (key: string): string => `/v1/kv/${encodeURIComponent(key)}`;

export class KeyflowClient {
  /** @keyflow/client's transport: reads and keyed writes are retried after a lost connection, a timeout or a 503. */
  private readonly fetch = retryingFetch(globalThis.fetch.bind(globalThis));

  constructor(
    readonly url: string,
    private readonly token?: string,
  ) {}

  getKey(key: string, { strong = false }: { strong?: boolean } = {}): Promise<KvEntry> {
    return this.json<KvEntry>('GET', `${path(key)}${strong ? '?consistency=strong' : ''}`);
  }

  /** `valueJson` is sent as it is, inside `{"value": …}`: the CLI never re-serialises a value. */
  async putKey(key: string, valueJson: string, options: WriteOptions & { ttl?: number } = {}): Promise<WriteAnswer> {
    const ttl = options.ttl !== undefined ? `,"ttl":${options.ttl}` : '';
    return this.write('PUT', key, `{"value":${valueJson}${ttl}}`, options);
  }

  deleteKey(key: string, options: WriteOptions = {}): Promise<WriteAnswer> {
    return this.write('DELETE', key, undefined, options);
  }

  listPage(
    prefix: string,
    options: { cursor?: string; limit?: number; keysOnly?: boolean; strong?: boolean } = {},
  ): Promise<ListPage> {
    const query = new URLSearchParams({ prefix });
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.keysOnly) query.set('keysOnly', 'true');
    if (options.strong) query.set('consistency', 'strong');
    return this.json<ListPage>('GET', `/v1/kv?${query.toString()}`);
  }

  /** Opens the watch stream; the caller reads and parses `text/event-stream` from the body. */
  async watch(
    prefix: string,
    { lastEventId, fromRevision, signal }: { lastEventId?: string; fromRevision?: string; signal?: AbortSignal },
  ): Promise<ReadableStream<Uint8Array>> {
    const query = new URLSearchParams({ prefix });
    if (fromRevision !== undefined && lastEventId === undefined) query.set('fromRevision', fromRevision);
    const response = await this.send('GET', `/v1/watch?${query.toString()}`, {
      headers: { accept: 'text/event-stream', ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) },
      stream: true,
      ...(signal ? { signal } : {}),
    });
    if (!response.body) throw new CliError('the watch answered without a stream');
    return response.body;
  }

  async backup({ prefix }: { prefix?: string } = {}): Promise<BackupStream> {
    const query = prefix !== undefined ? `?${new URLSearchParams({ prefix }).toString()}` : '';
    const response = await this.send('GET', `/v1/backup${query}`, {
      headers: { accept: BACKUP_CONTENT_TYPE },
      stream: true,
    });
    const keys = Number(response.headers.get(BACKUP_KEYS_HEADER));
    if (!response.body || !Number.isSafeInteger(keys)) {
      throw new CliError(`the backup answer lacks its ${BACKUP_KEYS_HEADER} header or its body`);
    }
    return { keys, snapshot: response.headers.get(BACKUP_SNAPSHOT_HEADER) ?? '', body: response.body };
  }

  restore(lines: string): Promise<RestoreAnswer> {
    return this.json<RestoreAnswer>('POST', '/v1/backup/restore', {
      body: lines,
      headers: { 'content-type': BACKUP_CONTENT_TYPE },
    });
  }

  /** Logs in and returns the session cookie (`name=value`) for the calls that follow. */
  async login(username: string, password: string): Promise<string> {
    const response = await this.send('POST', '/v1/auth/login', {
      body: JSON.stringify({ username, password }),
      headers: { 'content-type': 'application/json' },
      anonymous: true,
    });
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('keyflow_session='));
    if (!cookie) throw new CliError('the login answered without a session cookie');
    return cookie.split(';')[0] ?? cookie;
  }

  /** A token acting with all of the user's grants; `expiresIn` (seconds) makes it expire. */
  createToken(cookie: string, name: string, expiresIn?: number): Promise<CreatedToken> {
    return this.json<CreatedToken>('POST', '/v1/auth/tokens', {
      body: JSON.stringify({ name, ...(expiresIn !== undefined ? { expiresIn } : {}) }),
      headers: { 'content-type': 'application/json', cookie },
      anonymous: true,
    });
  }

  async logout(cookie: string): Promise<void> {
    await this.send('POST', '/v1/auth/logout', { headers: { cookie }, anonymous: true });
  }

  private async write(
    method: 'PUT' | 'DELETE',
    key: string,
    body: string | undefined,
    { ifMatch, ifNoneMatch, wait }: WriteOptions,
  ): Promise<WriteAnswer> {
    const response = await this.send(method, path(key), {
      ...(body !== undefined ? { body } : {}),
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        // As @keyflow/client does: every write has its own key, so the retries of `send` can never apply it twice.
        'idempotency-key': `kf-${randomUUID()}`,
        ...(ifMatch !== undefined ? { 'if-match': ifMatch } : {}),
        ...(ifNoneMatch ? { 'if-none-match': '*' } : {}),
        ...(wait !== undefined ? { prefer: `wait=${wait}` } : {}),
      },
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as WriteAnswer['body']) : {} };
  }

  private async json<T>(method: string, route: string, init: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, route, init);
    return (await response.json()) as T;
  }

  /** One request; any answer but 2xx becomes an `ApiError` with the problem document. */
  private async send(method: string, route: string, init: RequestOptions = {}): Promise<Response> {
    const { anonymous = false, stream = false, headers = {}, ...rest } = init;
    let response: Response;
    try {
      // A stream (watch, export) is read for as long as it runs: no per-attempt timeout, no retry here.
      const transport = stream ? (request: Request) => fetch(request) : this.fetch;
      response = await transport(
        new Request(`${this.url}${route}`, {
          method,
          ...rest,
          headers: { ...(this.token && !anonymous ? { authorization: `Bearer ${this.token}` } : {}), ...headers },
        }),
      );
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new CliError(`cannot reach ${this.url}: ${cause}`);
    }
    if (response.ok) return response;
    throw new ApiError(await problemOf(response));
  }
}

interface RequestOptions {
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Without the bearer token (login uses its session cookie instead). */
  anonymous?: boolean;
  /** The answer is a long stream (watch, export). */
  stream?: boolean;
}

/** The problem document of an error answer; a body that is not one still gives a status and a detail. */
async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (typeof parsed.detail === 'string') return { ...parsed, status: response.status, detail: parsed.detail };
  } catch {
    // Not JSON: a proxy's HTML page, say.
  }
  return { status: response.status, detail: text.trim().slice(0, 200) || response.statusText || 'no detail' };
}
