import { describe, expect, it } from 'vitest';
import { formatLine, mergeLogs, parseLogLine } from './keyflow-logs.mjs';

const nginx = (ts: number, id: string): string =>
  JSON.stringify({ time: '2026-12-01T10:00:00+00:00', ts, service: 'nginx-gateway-2', requestId: id, status: 202 });
const api = (time: number, id: string): string => JSON.stringify({ level: 30, time, instance: 'api-1', reqId: id });
/** The worker's line for one write: the request id came in the write message (no HTTP request of its own). */
const worker = (time: number, id: string): string =>
  JSON.stringify({ level: 30, time, instance: 'worker-1', context: 'Shard 3', requestId: id, msg: 'write applied' });

describe(parseLogLine.name, () => {
  it('should read the time and request id of nginx, pino and plain-text lines', () => {
    expect(parseLogLine(nginx(1796119200.123, 'abc'))).toEqual({
      time: 1796119200123,
      requestId: 'abc',
      service: 'nginx-gateway-2',
    });
    expect(parseLogLine(api(1796119200200, 'abc'))).toMatchObject({ time: 1796119200200, requestId: 'abc' });
    expect(parseLogLine('2026-12-01 10:00:00,250 INFO: no action. I am (pg-1), the leader').time).toBe(
      Date.parse('2026-12-01T10:00:00.250Z'),
    );
    expect(parseLogLine('4849:M 01 Dec 2026 10:00:00.300 * Ready to accept connections').time).toBe(
      Date.parse('2026-12-01T10:00:00.300Z'),
    );
    expect(parseLogLine('a line without a time')).toEqual({ time: undefined, requestId: undefined });
  });
});

describe(mergeLogs.name, () => {
  const sources = [
    {
      service: 'api-1',
      text: `(node) a warning before any time\n${api(1796119200200, 'abc')}\n${api(1796119200400, 'other')}\n`,
    },
    { service: 'nginx-gateway-2-access', text: `${nginx(1796119200.1, 'abc')}\n${nginx(1796119200.5, 'other')}\n` },
    { service: 'postgres-1', text: '2026-12-01 10:00:00,300 INFO: no action\n  and its continuation\n' },
    { service: 'worker-1', text: `${worker(1796119200350, 'abc')}\n${worker(1796119200600, 'other')}\n` },
  ];

  it('should merge every source in time order, untimed lines beside the line before them', () => {
    expect(mergeLogs(sources).map((l) => [l.service, l.time])).toEqual([
      ['nginx-gateway-2', 1796119200100],
      ['api-1', 1796119200200],
      ['api-1', 1796119200200],
      ['postgres-1', 1796119200300],
      ['postgres-1', 1796119200300],
      ['worker-1', 1796119200350],
      ['api-1', 1796119200400],
      ['nginx-gateway-2', 1796119200500],
      ['worker-1', 1796119200600],
    ]);
  });

  it('should keep one request across the tiers (gateway, API, worker), or one service', () => {
    expect(mergeLogs(sources, { request: 'abc' }).map((l) => l.service)).toEqual([
      'nginx-gateway-2',
      'api-1',
      'worker-1',
    ]);
    expect(mergeLogs(sources, { service: 'nginx' }).map((l) => l.requestId)).toEqual(['abc', 'other']);
    expect(formatLine(mergeLogs(sources, { service: 'postgres-1' })[0])).toBe(
      '2026-12-01T10:00:00.300Z postgres-1         2026-12-01 10:00:00,300 INFO: no action',
    );
  });
});
