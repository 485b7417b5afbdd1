import { describe, expect, it } from 'vitest';
import { parseWrkOutput, WrkOutputError, wrkSummaryRps, wrkSummaryStatusErrors } from './wrk-output.util';

/** wrk 4.1.0's output for `load-tests/wrk/health-live.lua` against a server answering 401 to everything. */
const WITH_ERRORS = `Running 1s test @ http://127.0.0.1:28480
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.95ms    2.97ms  30.40ms   95.62%
    Req/Sec    12.28k     4.13k   17.08k    50.00%
  12200 requests in 1.00s, 3.26MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 12200
Requests/sec:  12169.92
Transfer/sec:      3.25MB
wrk-result: {"durationUs":1002472,"requests":12200,"bytes":3416000,"errors":{"connect":0,"read":2,"write":0,"status":12200,"timeout":3},"latencyUs":{"min":29,"mean":945.8,"max":30401,"p50":266,"p90":1369,"p99":17937,"p999":28591}}
`;

const CLEAN = `Running 2s test @ http://127.0.0.1:28480
  2 threads and 8 connections
  23312 requests in 2.09s, 5.76MB read
Requests/sec:  11176.84
wrk-result: {"durationUs":2085741,"requests":23312,"bytes":6037808,"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latencyUs":{"min":30,"mean":1867.7,"max":39421,"p50":475,"p90":4790,"p99":20916,"p999":34405}}
`;

describe(parseWrkOutput.name, () => {
  it("should read rate and latency percentiles in ms from the script's result line", () => {
    const result = parseWrkOutput(CLEAN);
    expect(result.requests).toBe(23_312);
    expect(result.durationS).toBeCloseTo(2.085741);
    expect(result.rps).toBeCloseTo(wrkSummaryRps(CLEAN) ?? 0, 0);
    const close = (n: number): unknown => expect.closeTo(n, 6);
    expect(result.latency).toEqual({
      minMs: close(0.03),
      meanMs: close(1.8677),
      p50Ms: close(0.475),
      p90Ms: close(4.79),
      p99Ms: close(20.916),
      p999Ms: close(34.405),
      maxMs: close(39.421),
    });
    expect(result).toMatchObject({ errorCount: 0, okResponses: 23_312 });
  });

  it('should count socket errors, timeouts and statuses ≥ 400 as errors, and only the rest as accepted', () => {
    const result = parseWrkOutput(WITH_ERRORS);
    expect(result.errors).toEqual({ connect: 0, read: 2, write: 0, timeout: 3, status: 12_200 });
    expect(result.errorCount).toBe(12_205);
    expect(result.okResponses).toBe(0);
    expect(wrkSummaryStatusErrors(WITH_ERRORS)).toBe(result.errors.status);
    expect(wrkSummaryStatusErrors(CLEAN)).toBe(0);
  });

  it('should refuse output without a well-formed result line', () => {
    expect(() => parseWrkOutput('Running 1s test @ http://x\nRequests/sec: 1\n')).toThrow(WrkOutputError);
    expect(() => parseWrkOutput('wrk-result: {"durationUs":1')).toThrow("wrk's result line is not JSON");
    expect(() => parseWrkOutput('wrk-result: {"durationUs":1,"requests":2}')).toThrow("wrk's result line lacks fields");
    expect(wrkSummaryRps('nothing')).toBeNull();
  });
});
