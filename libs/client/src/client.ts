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
export type SessionUser = components['schemas']['AuthSessionResponseDto'];
export type Me = components['schemas']['AuthMeResponseDto'];
export type SessionInfo = components['schemas']['AuthSessionInfoResponseDto'];
export type TokenInfo = components['schemas']['TokenResponseDto'];
export type CreatedToken = components['schemas']['TokenCreatedResponseDto'];
export type ClusterView = components['schemas']['ClusterResponseDto'];
export type ClusterProcess = components['schemas']['ClusterProcessDto'];
export type InstanceStatus = components['schemas']['StatusResponseDto'];
export type DeadLetterPage = components['schemas']['DeadLetterListResponseDto'];
export type DeadLetterReplay = components['schemas']['DeadLetterReplayResponseDto'];

/** An answer together with the API instance that served it (`X-Served-By`, set by every instance). */
export interface Served<T> {
  data: T;
  servedBy: string | undefined;
  /** The gateway address the request reached (`X-Gateway-Address`, set by every nginx gateway); none direct. */
  gateway: string | undefined;
}

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

/**
 * A random (v4) UUID. `crypto.randomUUID` exists only in secure contexts: a browser page served over plain HTTP from a
 * name other than localhost (the console at http://api.keyflow.test) has `getRandomValues` alone.
 */
export interface UuidSource {
  randomUUID?: () => string;
  getRandomValues(array: Uint8Array): Uint8Array;
}

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
  private readonly baseUrl: string;
  private readonly credentials: Record<string, string>;
  private readonly fetchFn: typeof fetch;

  constructor(options: KeyflowClientOptions) {
    const retry = { ...DEFAULT_RETRY, ...options.retry };
    const base = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchFn = base;
    this.credentials = {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.cookie ? { cookie: options.cookie } : {}),
    };
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      fetch: retryingFetch(base, retry, options.timeoutMs ?? 30_000),
      headers: this.credentials,
    });
  }

  /**
   * Every applied write under `prefix` from now on (or after `fromRevision`), across reconnections, until the
   * caller stops iterating or aborts: `for await (const event of kv.watch('user:'))`. See `watchEvents`.
   */
  watch(prefix: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    const query = new URLSearchParams({ prefix });
    return watchEvents(this.fetchFn, `${this.baseUrl}/v1/watch?${query.toString()}`, this.credentials, options);
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
    if (response.status === 202) {
      const accepted = data as Accepted;
      return { status: 'accepted', operationId: accepted.operationId, key: accepted.key };
    }
    const applied = data as Applied;
    return {
      status: 'applied',
      operationId: applied.operationId,
      key,
      version: applied.version,
      created: response.status === 201,
    };
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

  /** Logs in: the answer sets the session cookie (a browser keeps it; elsewhere read `Set-Cookie`). */
  async login(username: string, password: string): Promise<Served<SessionUser>> {
    const { data, error, response } = await this.raw.POST('/v1/auth/login', { body: { username, password } });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return served(data, response);
  }

  /** Ends the session on every instance. */
  async logout(): Promise<void> {
    const { error, response } = await this.raw.POST('/v1/auth/logout');
    if (response.status !== 204) throw problemOf(response, error);
  }

  /** Who is calling (a session or a token), and which instance answered. */
  async me(): Promise<Served<Me>> {
    const { data, error, response } = await this.raw.GET('/v1/auth/me');
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return served(data, response);
  }

  /** The session of this cookie: when it began and when it ends (400 for a bearer token, which has none). */
  async session(): Promise<Served<SessionInfo>> {
    const { data, error, response } = await this.raw.GET('/v1/auth/session');
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return served(data, response);
  }

  /** The caller's API tokens, newest first (revoked ones too); never the tokens themselves. */
  async listTokens(): Promise<TokenInfo[]> {
    const { data, error, response } = await this.raw.GET('/v1/auth/tokens');
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data.items;
  }

  /** A new API token; its secret is in this answer only. */
  async createToken(name: string): Promise<CreatedToken> {
    const { data, error, response } = await this.raw.POST('/v1/auth/tokens', { body: { name } });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }

  async revokeToken(id: string): Promise<void> {
    const { error, response } = await this.raw.DELETE('/v1/auth/tokens/{id}', { params: { path: { id } } });
    if (response.status !== 204) throw problemOf(response, error);
  }

  /** The answering instance and its dependencies (`GET /v1/status`). */
  async status(): Promise<Served<InstanceStatus>> {
    const { data, error, response } = await this.raw.GET('/v1/status');
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return served(data, response);
  }

  /** Every process of the deployment, the database primary and the queues (admins only). */
  async cluster(): Promise<Served<ClusterView>> {
    const { data, error, response } = await this.raw.GET('/v1/admin/cluster');
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return served(data, response);
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

  /** An accepted write's operation: `accepted` until a worker applied it, then `applied`, `conflict` or `failed`. */
  async operation(id: string, signal?: AbortSignal): Promise<Operation> {
    const { data, error, response } = await this.raw.GET('/v1/operations/{id}', { params: { path: { id } }, signal });
    if (error !== undefined || data === undefined) throw problemOf(response, error);
    return data;
  }
}

function served<T>(data: T, response: Response): Served<T> {
  return {
    data,
    servedBy: response.headers.get('x-served-by') ?? undefined,
    gateway: response.headers.get('x-gateway-address') ?? undefined,
  };
}

/** The problem of an error answer, as `KeyflowProblem`. */
export function problemOf(response: Response, body: unknown): KeyflowProblem {
  return new KeyflowProblem(toProblem(response.status, response.statusText, body), response);
}
