import { Pool, type Dispatcher } from 'undici';
import type { RequestSpec } from '../../../scenarios/scenarios';

/** What one request did: its status (0 on a network error), its body when asked for, and how long it took. */
export interface HttpOutcome {
  status: number;
  ok: boolean;
  body: string | undefined;
  /** Send to last body byte, like k6's http_req_duration. */
  durationMs: number;
  /** Why it failed (`status 503`, `UND_ERR_SOCKET`, …), when it did. */
  failure: string | undefined;
}

export interface KvHttpClientOptions {
  /** Upper bound on open connections: the VU count, as k6 has one connection per VU. */
  connections: number;
  token?: string | undefined;
  timeoutMs?: number;
}

/**
 * A thin HTTP client over one `undici.Pool` per target (pipelining 1, keep-alive), which is how the load reaches the
 * gateway. It never throws for an HTTP or network failure: every outcome is a value to record.
 */
export class KvHttpClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly authorization: string | undefined;

  constructor(baseUrl: string, options: KvHttpClientOptions) {
    const url = new URL(baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    const timeout = options.timeoutMs ?? 30_000;
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connectTimeout: 5000,
    });
    this.authorization = options.token ? `Bearer ${options.token}` : undefined;
  }

  /**
   * Sends one request. Uses `dispatch` with a minimal handler rather than `request`: no response stream is created,
   * which roughly halves the generator's CPU per request — CPU the server under test shares on one machine.
   */
  send(spec: RequestSpec, readBody = false): Promise<HttpOutcome> {
    const headers: Record<string, string> = {};
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    const started = performance.now();
    return new Promise<HttpOutcome>((resolve) => {
      let status = 0;
      const chunks: Buffer[] = [];
      const handler: Dispatcher.DispatchHandlers = {
        onConnect: () => undefined,
        onError: (error) =>
          resolve({
            status: 0,
            ok: false,
            body: undefined,
            durationMs: performance.now() - started,
            failure: reasonOf(error),
          }),
        onHeaders: (statusCode) => {
          status = statusCode;
          return true;
        },
        onData: (chunk) => {
          if (readBody) chunks.push(chunk);
          return true;
        },
        onComplete: () => {
          const ok = spec.expectedStatuses.includes(status);
          resolve({
            status,
            ok,
            body: readBody ? Buffer.concat(chunks).toString('utf8') : undefined,
            durationMs: performance.now() - started,
            failure: ok ? undefined : `status ${status}`,
          });
        },
      };
      this.pool.dispatch({ method: spec.method, path: this.basePath + spec.path, headers, body: spec.body }, handler);
    });
  }

  /**
   * Closes every connection. Callers have already waited (gracefully, bounded) for their requests, so anything
   * still in flight is abandoned rather than waited for: the run must end in bounded time.
   */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** A short, countable reason for a network failure: the error code when there is one. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' ? code : error.name;
  }
  return 'unknown error';
}
