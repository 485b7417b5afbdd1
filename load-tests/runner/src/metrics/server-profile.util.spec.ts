import { describe, expect, it } from 'vitest';
import {
  counterDelta,
  describeServerProfile,
  parseCommandStats,
  parseRuntimeThreadStats,
  shortQuery,
  sumByKey,
} from './server-profile.util';

/** The head and the per-type table of `rabbitmq-diagnostics runtime_thread_stats` (RabbitMQ 3.10, Debian 12). */
const THREAD_STATS = [
  'Will collect runtime thread stats on rmq1@localhost for 1 seconds...',
  'Average thread real-time    : 1001109 us',
  '',
  '        Thread      aux check_io emulator       gc    other     port    sleep',
  '',
  'Stats per thread:',
  ' scheduler( 1)    0.01%    0.01%    0.11%    0.00%    0.04%    0.13%   99.70%',
  '',
  'Stats per type:',
  '         async    0.00%    0.00%    0.00%    0.00%    0.00%    0.00%  100.00%',
  '     scheduler    0.02%    1.50%   31.25%    2.00%    3.10%    8.40%   53.73%',
  '',
].join('\n');

describe(parseCommandStats.name, () => {
  it('should read every cmdstat line and ignore the rest', () => {
    const info =
      '# Commandstats\r\ncmdstat_evalsha:calls=120,usec=3600,usec_per_call=30.00\r\ncmdstat_get:calls=7,usec=14\r\n';
    expect(parseCommandStats(info)).toEqual([
      { command: 'evalsha', calls: 120, usec: 3600 },
      { command: 'get', calls: 7, usec: 14 },
    ]);
  });
});

describe(counterDelta.name, () => {
  const fields = ['calls', 'usec'] as const;
  const key = (s: { command: string }) => s.command;

  it('should subtract the snapshot before, leave out what did not move, and count a new key from zero', () => {
    const before = [
      { command: 'get', calls: 10, usec: 100 },
      { command: 'ping', calls: 5, usec: 5 },
    ];
    const after = [
      { command: 'get', calls: 15, usec: 160 },
      { command: 'ping', calls: 5, usec: 5 },
      { command: 'set', calls: 3, usec: 9 },
    ];
    expect(counterDelta(before, after, key, [...fields])).toEqual([
      { command: 'get', calls: 5, usec: 60 },
      { command: 'set', calls: 3, usec: 9 },
    ]);
  });

  it('should count a counter that went down (the server restarted) from zero', () => {
    expect(
      counterDelta([{ command: 'get', calls: 100, usec: 1000 }], [{ command: 'get', calls: 4, usec: 8 }], key, [
        ...fields,
      ]),
    ).toEqual([{ command: 'get', calls: 4, usec: 8 }]);
  });
});

describe(sumByKey.name, () => {
  it('should add up the same command from several nodes', () => {
    const nodes = [
      { command: 'get', calls: 1, usec: 2 },
      { command: 'get', calls: 3, usec: 4 },
      { command: 'set', calls: 1, usec: 1 },
    ];
    expect(sumByKey(nodes, (s) => s.command, ['calls', 'usec'])).toEqual([
      { command: 'get', calls: 4, usec: 6 },
      { command: 'set', calls: 1, usec: 1 },
    ]);
  });
});

describe(parseRuntimeThreadStats.name, () => {
  it('should read the per-type table, state by state', () => {
    const stats = parseRuntimeThreadStats(THREAD_STATS);
    expect(Object.keys(stats)).toEqual(['async', 'scheduler']);
    expect(stats.scheduler).toEqual({
      aux: 0.02,
      check_io: 1.5,
      emulator: 31.25,
      gc: 2,
      other: 3.1,
      port: 8.4,
      sleep: 53.73,
    });
  });

  it('should give nothing for output without the table (an error message)', () => {
    expect(parseRuntimeThreadStats('Error: unable to perform an operation on node')).toEqual({});
  });
});

describe(describeServerProfile.name, () => {
  it('should put every server per accepted write, and the scheduler states that matter', () => {
    const lines = describeServerProfile(
      'wrk store-put',
      {
        redis: {
          commands: [
            { command: 'evalsha', calls: 2000, usec: 60_000 },
            { command: 'get', calls: 1000, usec: 2_000 },
          ],
        },
        postgres: {
          statements: [
            { queryId: '1', query: 'INSERT INTO kv_entries\n  SELECT …', calls: 100, totalMs: 250, rows: 1000 },
          ],
        },
        rabbitmq: {
          io: [
            { node: 'rmq1@localhost', fsyncs: 300, writes: 900, writeBytes: 1_024_000 },
            { node: 'rmq2@localhost', fsyncs: 200, writes: 600, writeBytes: 1_024_000 },
          ],
          threads: { 'rmq1@localhost': parseRuntimeThreadStats(THREAD_STATS), 'rmq2@localhost': 'timed out' },
        },
      },
      1000,
    );
    expect(lines).toEqual([
      '[profile wrk store-put] redis, every node: 3.00 commands and 62.0 µs of server time per write; by time: evalsha 2.00 (60.0 µs), get 1.00 (2.0 µs)',
      '[profile wrk store-put] postgres primary: 0.250 ms of statement time per write; top:',
      '[profile wrk store-put]   0.250 ms/write, 100 calls of 2.50 ms, 10.0 rows/call: INSERT INTO kv_entries SELECT …',
      '[profile wrk store-put] rabbitmq, all nodes: 0.500 fsyncs and 2.00 KiB written per write',
      '[profile wrk store-put]   rmq1@localhost schedulers: check_io 1.5 %, emulator 31.3 %, gc 2.0 %, other 3.1 %, port 8.4 %, sleep 53.7 %',
      '[profile wrk store-put]   rmq2@localhost threads: timed out',
    ]);
  });

  it('should say which server could not be read', () => {
    const lines = describeServerProfile(
      'node sustained-writes-1000',
      { redis: { error: 'ECONNREFUSED' }, postgres: { error: 'no db' }, rabbitmq: { error: 'status 401' } },
      10,
    );
    expect(lines).toEqual([
      '[profile node sustained-writes-1000] redis: ECONNREFUSED',
      '[profile node sustained-writes-1000] postgres: no db',
      '[profile node sustained-writes-1000] rabbitmq: status 401',
    ]);
  });
});

describe(shortQuery.name, () => {
  it('should flatten whitespace and shorten long statements', () => {
    expect(shortQuery('SELECT 1\n   FROM  t')).toBe('SELECT 1 FROM t');
    expect(shortQuery('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});
