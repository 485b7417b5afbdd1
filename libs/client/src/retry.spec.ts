import { describe, expect, it } from 'vitest';
import { isRetryableStatus, retryDelayMs, retryingFetch } from './retry';

const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

/** A fetch that answers from a script, and keeps what it was sent (method, Idempotency-Key, body). */
function scripted(answers: Array<Response | Error>) {
  const seen: Array<{ method: string; key: string | null; body: string }> = [];
  const fetchFn = async (input: Parameters<typeof fetch>[0]): Promise<Response> => {
    const request = input as Request;
    seen.push({ method: request.method, key: request.headers.get('idempotency-key'), body: await request.text() });
    const next = answers.shift();
    if (next === undefined) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetchFn: fetchFn, seen };
}

const put = (key?: string) =>
  new Request('http://kv.test/v1/kv/a', {
    method: 'PUT',
    body: '{"value":1}',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
  });

describe(retryingFetch.name, () => {
  it('should send a keyed write again after a 503 and a connection error, with the same key and body', async () => {
    const { fetchFn, seen } = scripted([
      new Response('{}', { status: 503, headers: { 'retry-after': '0' } }),
      new TypeError('fetch failed'),
      new Response('{"status":"accepted"}', { status: 202 }),
    ]);
    const response = await retryingFetch(fetchFn, fast)(put('kf-1'));
    expect(response.status).toBe(202);
    expect(seen).toEqual(Array(3).fill({ method: 'PUT', key: 'kf-1', body: '{"value":1}' }));
  });

  it('should never repeat a write without an Idempotency-Key', async () => {
    const { fetchFn, seen } = scripted([new Response('{}', { status: 503 })]);
    expect((await retryingFetch(fetchFn, fast)(put())).status).toBe(503);
    await expect(retryingFetch(scripted([new TypeError('fetch failed')]).fetchFn, fast)(put())).rejects.toThrow(
      'fetch failed',
    );
    expect(seen).toHaveLength(1);
  });

  it('should give up after the last attempt with the last answer, and not retry a 4xx', async () => {
    const unavailable = () => new Response('{}', { status: 503 });
    const { fetchFn, seen } = scripted([unavailable(), unavailable(), unavailable(), unavailable()]);
    expect((await retryingFetch(fetchFn, fast)(put('kf-2'))).status).toBe(503);
    expect(seen).toHaveLength(4);
    const conflict = scripted([new Response('{}', { status: 412 })]);
    expect((await retryingFetch(conflict.fetchFn, fast)(put('kf-3'))).status).toBe(412);
    expect(conflict.seen).toHaveLength(1);
  });

  it('should stop when the caller aborts', async () => {
    const controller = new AbortController();
    const { fetchFn } = scripted([new Response('{}', { status: 503, headers: { 'retry-after': '60' } })]);
    const request = new Request(put('kf-4'), { signal: controller.signal });
    const pending = retryingFetch(fetchFn, { ...fast, maxDelayMs: 60_000 })(request);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });
});

describe(retryDelayMs.name, () => {
  it('should follow Retry-After up to the cap, else back off exponentially', () => {
    const policy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };
    expect(retryDelayMs(1, policy, '2')).toBe(2_000);
    expect(retryDelayMs(1, policy, '120')).toBe(5_000);
    expect(retryDelayMs(1, policy, null, () => 0.5)).toBe(200);
    expect(retryDelayMs(3, policy, null, () => 0.5)).toBe(800);
  });

  it('should retry only the statuses that say "try again"', () => {
    expect([429, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 404, 409, 412, 500].some(isRetryableStatus)).toBe(false);
  });
});
