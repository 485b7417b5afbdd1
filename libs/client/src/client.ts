import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './generated/openapi.types';
import { KeyflowProblem, toProblem } from './problem';
import { DEFAULT_RETRY, retryingFetch, type RetryPolicy } from './retry';
import { watchEvents, type WatchEvent, type WatchOptions } from './watch';

export type Entry = components['schemas']['KvEntryResponseDto'];
export type JsonValue = Entry['value'];
export type Accepted = components['schemas']['OperationAcceptedDto'];
export type Applied = components['schemas']['WriteAppliedDto'];
export type Operation = components['schemas']['OperationResponseDto'];
export type ListItem = components['schemas']['KvListItemDto'];
export type ListPage = components['schemas']['KvListResponseDto'];
export type Grant = components['schemas']['GrantDto'];
export type Me = components['schemas']['AuthMeResponseDto'];
export type Session = components['schemas']['AuthSessionResponseDto'];
export type CreatedToken = components['schemas']['TokenCreatedResponseDto'];
export type Status = components['schemas']['StatusResponseDto'];
export type SessionInfo = components['schemas']['AuthSessionInfoResponseDto'];
export type TokenInfo = components['schemas']['TokenResponseDto'];
export type ClusterView = components['schemas']['ClusterResponseDto'];
export type ClusterProcess = components['schemas']['ClusterProcessDto'];
export type DeadLetterPage = components['schemas']['DeadLetterListResponseDto'];
export type DeadLetterReplay = components['schemas']['DeadLetterReplayResponseDto'];
export type MetricsView = components['schemas']['MetricsResponseDto'];
export type MetricsPanel = components['schemas']['MetricsPanelDto'];
export type MetricsWindow = MetricsView['window'];

/** An answer together with who served it. */
export interface Served<T> {
  data: T;
  /** The API instance that answered (`X-Served-By`, set by every instance). */
  servedBy: string | undefined;
  /** The gateway address the request reached (`X-Gateway-Address`, set by every nginx gateway); none direct. */
  gateway: string | undefined;
}
export type BulkOperation = components['schemas']['KvBulkOperationDto'];
export type BulkResult = components['schemas']['KvBulkResponseDto'];
export type RestoreResult = components['schemas']['RestoreResponseDto'];

/** `GET /v1/backup`: the NDJSON stream of one snapshot, and how many lines it holds (a short stream is a cut one). */
export interface Backup {
  keys: number;
  snapshot: string;
  body: ReadableStream<Uint8Array>;
}

/** The headers of a backup answer (see the API's `@keyflow/contracts`; repeated here to keep this package leaf). */
const BACKUP_KEYS_HEADER = 'x-keyflow-backup-keys';
const BACKUP_SNAPSHOT_HEADER = 'x-keyflow-backup-snapshot';
const NDJSON = 'application/x-ndjson';

export interface ListOptions {
  /** Keys per page, 1–1000 (the API's default: 100). */
  limit?: number;
  /** Leave the values out. */
  keysOnly?: boolean;
  /** Read the primary, past the replicas. */
  strong?: boolean;
  signal?: AbortSignal;
}

export interface KeyflowClientOptions {
  /** The gateway (or an API instance): `http://127.0.0.21:8080`. */
  baseUrl: string;
  /** An API token, sent as `Authorization: Bearer …`. */
  token?: string;
  /** Or a session cookie (`keyflow_session=…`) from `POST /v1/auth/login`; in a browser the browser sends its own. */
  cookie?: string;
  /** How safe requests (reads, and writes with an Idempotency-Key) are retried. */
  retry?: Partial<RetryPolicy>;
  /** Per attempt (default 30 s; a `wait` write adds its wait). */
  timeoutMs?: number;
  /** Another `fetch` (tests, instrumentation); the global one by default. */
  fetch?: typeof fetch;
}

export interface WriteOptions {
  /** `If-Match`: apply only if the key is at this version (`*`: if it exists). Checked when the write is applied. */
  ifMatch?: number | '*';
  /** `If-None-Match: *`: apply only if the key does not exist. */
  ifNoneMatch?: '*';
  /** `Prefer: wait=N`: wait up to N seconds (at most 60) for the outcome instead of the 202. */
  wait?: number;
  /**
   * The write's Idempotency-Key. Every write has one: generated here unless given, and sent again with every retry
   * of it, so a write retried after a timeout or a 503 is applied once. Give your own to make retries of your own
   * (after a restart, say) safe too.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface PutOptions extends WriteOptions {
  /** Seconds until the key expires (a put without it clears an earlier one). */
  ttl?: number;
}

/** A write's answer: accepted (202, follow `operationId`) or, with `wait`, its outcome. */
export type WriteResult =
  | { status: 'accepted'; operationId: string; key: string }
  | { status: 'applied'; operationId: string; key: string; version: number; created: boolean }
  | { status: 'deleted'; key: string };

export interface UuidSource {
  randomUUID?: () => string;
  getRandomValues(array: Uint8Array): Uint8Array;
}

/**
 * A random (v4) UUID. `crypto.randomUUID` exists only in secure contexts: a browser page served over plain HTTP from a
 * name other than localhost (the console at http://api.keyflow.test) has `getRandomValues` alone.
 */
export function randomUuid(crypto: UuidSource = globalThis.crypto): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(b, (x: number) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const newKey = (): string => `kf-${randomUuid()}`;

function writeHeaders(options: WriteOptions): Record<string, string> {
  return {
    'Idempotency-Key': options.idempotencyKey ?? newKey(),
    ...(options.ifMatch === undefined ? {} : { 'If-Match': options.ifMatch === '*' ? '*' : `"${options.ifMatch}"` }),
    ...(options.ifNoneMatch ? { 'If-None-Match': '*' } : {}),
    ...(options.wait === undefined ? {} : { Prefer: `wait=${options.wait}` }),
  };
}

/**
 * keyflow's client: every route typed from the API's OpenAPI document (`raw`, an `openapi-fetch` client), and
 * over it what a generator does not give — credentials, writes that are idempotent by default and retried safely,
 * problem documents as `KeyflowProblem`, `Prefer: wait` as an option. Works wherever `fetch` does (Node 20, browsers).
 */
export class KeyflowClient {
  readonly raw: Client<paths>;
  readonly baseUrl: string;
  private token: string | undefined;
  private cookie: string | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly transport: (request: Request) => Promise<Response>;

  constructor(options: KeyflowClientOptions) {
    const retry = { ...DEFAULT_RETRY, ...options.retry };
    const base = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchFn = base;
    this.token = options.token;
    this.cookie = options.cookie;
    this.transport = retryingFetch(base, retry, options.timeoutMs ?? 30_000);
    this.raw = createClient<paths>({ baseUrl: this.baseUrl, fetch: this.transport });
    // Credentials are read per request: `login` and `logout` change them for every call after.
    this.raw.use({
      onRequest: ({ request }) => {
        for (const [name, value] of Object.entries(this.credentials())) {
          if (!request.headers.has(name)) request.headers.set(name, value);
        }
        return request;
      },
    });
  }

  /** The headers that say who calls: the bearer token, else the session cookie (a browser adds its own). */
  private credentials(): Record<string, string> {
    return {
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...(this.cookie ? { cookie: this.cookie } : {}),
    };
  }

  /**
   * Every applied write under `prefix` from now on (or after `fromRevision`), across reconnections, until the
   * caller stops iterating or aborts: `for await (const event of kv.watch('user:'))`. See `watchEvents`.
   */
  watch(prefix: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    const query = new URLSearchParams({ prefix });
    return watchEvents(this.fetchFn, `${this.baseUrl}/v1/watch?${query.toString()}`, this.credentials(), options);
  }

  /** The entry, or undefined when the key does not exist (404). `strong`: read the primary, past the cache. */
  async get(key: string, options: { strong?: boolean; signal?: AbortSignal } = {}): Promise<Entry | undefined> {
    const { data, error, response } = await this.raw.GET('/v1/kv/{key}', {
      params: { path: { key }, query: options.strong ? { consistency: 'strong' } : {} },
      signal: options.signal,
    });
    if (response.status === 404) return undefined;
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  async put(key: string, value: JsonValue, options: PutOptions = {}): Promise<WriteResult> {
    const { data, error, response } = await this.raw.PUT('/v1/kv/{key}', {
      params: { path: { key }, header: writeHeaders(options) },
      body: { value, ...(options.ttl === undefined ? {} : { ttl: options.ttl }) },
      signal: options.signal,
    });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return writeResult(key, response.status, data);
  }

  /**
   * `put` with the value as JSON text, sent exactly as given (inside `{"value": …}`): nothing is parsed and
   * serialised again on the way, so a number JavaScript cannot hold (`12345678901234567890`, `1.0`) reaches the API
   * as written — and is refused there with a 400 if keyflow could not store it exactly. The CLI writes this way.
   */
  async putJson(key: string, valueJson: string, options: PutOptions = {}): Promise<WriteResult> {
    const ttl = options.ttl === undefined ? '' : `,"ttl":${JSON.stringify(options.ttl)}`;
    const response = await this.send('PUT', `/v1/kv/${encodeURIComponent(key)}`, {
      body: `{"value":${valueJson}${ttl}}`,
      headers: { 'content-type': 'application/json', ...writeHeaders(options) },
      signal: options.signal,
    });
    return writeResult(key, response.status, (await response.json()) as Accepted | Applied);
  }

  async delete(key: string, options: WriteOptions = {}): Promise<WriteResult> {
    const { data, error, response } = await this.raw.DELETE('/v1/kv/{key}', {
      params: { path: { key }, header: writeHeaders(options) },
      signal: options.signal,
    });
    if (response.status === 204) return { status: 'deleted', key };
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    const accepted = data;
    return { status: 'accepted', operationId: accepted.operationId, key: accepted.key };
  }

  /** One page of live keys under `prefix`, in byte order; pass its `cursor` for the next (`null`: the last). */
  async listPage(prefix: string, cursor?: string | null, options: ListOptions = {}): Promise<ListPage> {
    const { data, error, response } = await this.raw.GET('/v1/kv', {
      params: {
        query: {
          prefix,
          ...(cursor ? { cursor } : {}),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
          ...(options.keysOnly ? { keysOnly: true } : {}),
          ...(options.strong ? { consistency: 'strong' as const } : {}),
        },
      },
      signal: options.signal,
    });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /**
   * Every live key under `prefix`, in byte order, page after page: `for await (const item of kv.list('user:'))`.
   * Each key that exists throughout comes exactly once, even while others are written.
   */
  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<ListItem> {
    let cursor: string | null | undefined;
    do {
      const page = await this.listPage(prefix, cursor, options);
      yield* page.items;
      cursor = page.cursor;
    } while (cursor);
  }

  /** An accepted write's operation: `accepted` until a worker applied it, then `applied`, `conflict` or `failed`. */
  async operation(id: string, signal?: AbortSignal): Promise<Operation> {
    const { data, error, response } = await this.raw.GET('/v1/operations/{id}', { params: { path: { id } }, signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /**
   * An accepted write's outcome: polls its operation until a worker has applied it (or found a conflict, or failed
   * it). Rejects with a `TimeoutError` when it is still `accepted` after `timeoutMs` (default 30 s) — the write is
   * not lost then, only not applied yet.
   */
  async settled(
    id: string,
    {
      timeoutMs = 30_000,
      intervalMs = 50,
      signal,
    }: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
  ): Promise<Operation> {
    const deadline = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])]);
    for (let delay = intervalMs; ; delay = Math.min(delay * 2, 1_000)) {
      const operation = await this.operation(id, deadline);
      if (operation.status !== 'accepted') return operation;
      await new Promise<void>((resolve, reject) => {
        if (deadline.aborted) return reject(deadline.reason as Error);
        const timer = setTimeout(resolve, delay);
        deadline.addEventListener('abort', () => (clearTimeout(timer), reject(deadline.reason as Error)), {
          once: true,
        });
      });
    }
  }

  /**
   * Up to 1000 puts and deletes in one request (`POST /v1/kv`): each its own write, with its own operation id and
   * outcome. Idempotent like every write here: one Idempotency-Key for the request, sent again with its retries,
   * so each operation takes effect once.
   */
  async bulk(
    operations: BulkOperation[],
    options: Omit<WriteOptions, 'ifMatch' | 'ifNoneMatch'> = {},
  ): Promise<BulkResult> {
    const { data, error, response } = await this.raw.POST('/v1/kv', {
      params: { header: writeHeaders(options) },
      body: { operations },
      signal: options.signal,
    });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /**
   * Logs in with a username and password (`POST /v1/auth/login`). In a browser, the browser keeps the session
   * cookie; elsewhere this client keeps it and sends it with every call after (a token, if given, still wins).
   */
  async login(username: string, password: string, signal?: AbortSignal): Promise<Session> {
    const { data, error, response } = await this.raw.POST('/v1/auth/login', { body: { username, password }, signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    const cookie = response.headers.getSetCookie?.().find((c) => c.startsWith('keyflow_session='));
    if (cookie) this.cookie = cookie.split(';')[0];
    return data;
  }

  /** Ends the session on every instance, and forgets its cookie. */
  async logout(signal?: AbortSignal): Promise<void> {
    const { error, response } = await this.raw.POST('/v1/auth/logout', { signal });
    if (error !== undefined) throw problemOf(response, error);
    this.cookie = undefined;
  }

  /** The session cookie (`keyflow_session=…`) `login` keeps outside a browser, to hand to another client. */
  get sessionCookie(): string | undefined {
    return this.cookie;
  }

  /** Who is calling, and which API instance answered. */
  async me(signal?: AbortSignal): Promise<Me> {
    const { data, error, response } = await this.raw.GET('/v1/auth/me', { signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /**
   * A new API token, shown only in this answer (`token`); keyflow keeps only its hash. `grants` narrows it to a
   * subset of the caller's own (403 otherwise); `expiresIn` (seconds) makes it expire.
   */
  async createToken(
    name: string,
    { grants, expiresIn, signal }: { grants?: Grant[]; expiresIn?: number; signal?: AbortSignal } = {},
  ): Promise<CreatedToken> {
    const body = { name, ...(grants ? { grants } : {}), ...(expiresIn !== undefined ? { expiresIn } : {}) };
    const { data, error, response } = await this.raw.POST('/v1/auth/tokens', { body, signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /** Revokes a token, at once on every instance. */
  async revokeToken(id: string, signal?: AbortSignal): Promise<void> {
    const { error, response } = await this.raw.DELETE('/v1/auth/tokens/{id}', { params: { path: { id } }, signal });
    if (error !== undefined) throw problemOf(response, error);
  }

  /** The session of this cookie: when it began and when it ends (400 for a bearer token, which has none). */
  async session(signal?: AbortSignal): Promise<Served<SessionInfo>> {
    const { data, error, response } = await this.raw.GET('/v1/auth/session', { signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return served(data, response);
  }

  /** The caller's live API tokens; never the tokens themselves. */
  async listTokens(signal?: AbortSignal): Promise<TokenInfo[]> {
    const { data, error, response } = await this.raw.GET('/v1/auth/tokens', { signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data.tokens;
  }

  /** Every process of the deployment, the database primary and the queues (admins only). */
  async cluster(signal?: AbortSignal): Promise<Served<ClusterView>> {
    const { data, error, response } = await this.raw.GET('/v1/admin/cluster', { signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return served(data, response);
  }

  /**
   * Charts of the deployment from its Prometheus: a fixed set of panels over `window` (admins only). A 503 problem
   * when the API has no Prometheus (`metrics not configured`) or Prometheus does not answer.
   */
  async metrics(window: MetricsWindow = '15m', signal?: AbortSignal): Promise<MetricsView> {
    const { data, error, response } = await this.raw.GET('/v1/admin/metrics', {
      params: { query: { window } },
      signal,
    });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /** Dead-lettered writes from the head of the queue, which keeps them (admins only). */
  async deadLetters(options: { offset?: number; limit?: number } = {}): Promise<DeadLetterPage> {
    const { data, error, response } = await this.raw.GET('/v1/admin/dead-letters', { params: { query: options } });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /** Replays one dead-lettered write where that cannot reorder or repeat it (admins only; never forced). */
  async replayDeadLetter(operationId: string): Promise<DeadLetterReplay> {
    const { data, error, response } = await this.raw.POST('/v1/admin/dead-letters/{operationId}/replay', {
      params: { path: { operationId } },
    });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /** The answering instance's view of its dependencies. */
  async status(signal?: AbortSignal): Promise<Status> {
    const { data, error, response } = await this.raw.GET('/v1/status', { signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  /**
   * One consistent snapshot of every live key (under `prefix`), as an NDJSON stream (admins only). The stream is
   * read for as long as it runs: it has no timeout and is not retried.
   */
  async backup({ prefix, signal }: { prefix?: string; signal?: AbortSignal } = {}): Promise<Backup> {
    const query = prefix === undefined ? '' : `?${new URLSearchParams({ prefix }).toString()}`;
    const response = await this.send('GET', `/v1/backup${query}`, {
      headers: { accept: NDJSON },
      signal,
      stream: true,
    });
    const keys = Number(response.headers.get(BACKUP_KEYS_HEADER));
    if (response.body === null || !Number.isSafeInteger(keys)) {
      throw new Error(`the backup answer lacks its ${BACKUP_KEYS_HEADER} header or its body`);
    }
    return { keys, snapshot: response.headers.get(BACKUP_SNAPSHOT_HEADER) ?? '', body: response.body };
  }

  /** Restores backup lines (NDJSON, at most 2 MiB a request); never overwrites a key that exists in any form. */
  async restore(lines: string, signal?: AbortSignal): Promise<RestoreResult> {
    const response = await this.send('POST', '/v1/backup/restore', {
      body: lines,
      headers: { 'content-type': NDJSON },
      signal,
    });
    return (await response.json()) as RestoreResult;
  }

  /**
   * A request the typed client cannot make (a body sent as it is, a stream read as it comes), with the
   * credentials; the same retries unless `stream`. Any answer but 2xx throws `KeyflowProblem`.
   */
  private async send(
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined; stream?: boolean },
  ): Promise<Response> {
    const request = new Request(`${this.baseUrl}${path}`, {
      method,
      headers: { ...this.credentials(), ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    const response = await (init.stream ? this.fetchFn(request) : this.transport(request));
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    throw problemOf(response, body);
  }
}

function served<T>(data: T, response: Response): Served<T> {
  return {
    data,
    servedBy: response.headers.get('x-served-by') ?? undefined,
    gateway: response.headers.get('x-gateway-address') ?? undefined,
  };
}

/** A put's answer as a `WriteResult`: 202 accepted, or (with `wait`) 200/201 applied. */
function writeResult(key: string, status: number, body: Accepted | Applied): WriteResult {
  if (status === 202) return { status: 'accepted', operationId: body.operationId, key: body.key };
  const applied = body as Applied;
  return {
    status: 'applied',
    operationId: applied.operationId,
    key,
    version: applied.version,
    created: status === 201,
  };
}

/** The problem of an error answer, as `KeyflowProblem`. */
export function problemOf(response: Response, body: unknown): KeyflowProblem {
  return new KeyflowProblem(toProblem(response.status, response.statusText, body), response);
}
