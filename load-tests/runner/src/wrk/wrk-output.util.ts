/**
 * What one wrk run measured, from its output: the JSON line the scripts' `done()` prints (`wrk-result: {…}`,
 * load-tests/wrk/lib/common.lua) and, as a cross-check, wrk's own summary lines.
 */
export interface WrkResult {
  durationS: number;
  requests: number;
  /** Requests per second over the run (requests ÷ duration, as wrk's `Requests/sec`). */
  rps: number;
  latency: {
    minMs: number;
    meanMs: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    p999Ms: number;
    maxMs: number;
  };
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  /** Every error: socket errors plus responses with a status ≥ 400. */
  errorCount: number;
  /** Responses with a status below 400: for a write profile, the writes the service accepted. */
  okResponses: number;
}

export class WrkOutputError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = WrkOutputError.name;
  }
}

interface RawResult {
  durationUs: number;
  requests: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { min: number; mean: number; max: number; p50: number; p90: number; p99: number; p999: number };
}

const RESULT_PREFIX = 'wrk-result: ';

function isRawResult(value: unknown): value is RawResult {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<RawResult>;
  const numbers = (o: object | undefined, keys: string[]): boolean =>
    o !== undefined && keys.every((k) => typeof (o as Record<string, unknown>)[k] === 'number');
  return (
    typeof v.durationUs === 'number' &&
    typeof v.requests === 'number' &&
    numbers(v.errors, ['connect', 'read', 'write', 'status', 'timeout']) &&
    numbers(v.latencyUs, ['min', 'mean', 'max', 'p50', 'p90', 'p99', 'p999'])
  );
}

/** wrk's `Requests/sec: 1234.56` line, if present (null otherwise). */
export function wrkSummaryRps(output: string): number | null {
  const match = /^Requests\/sec:\s+([\d.]+)\s*$/m.exec(output);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** wrk's `Non-2xx or 3xx responses: N` line (responses with a status ≥ 400), 0 when absent. */
export function wrkSummaryStatusErrors(output: string): number {
  const match = /^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$/m.exec(output);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/** Parses a wrk run's stdout. Throws `WrkOutputError` when the script's result line is missing or malformed. */
export function parseWrkOutput(output: string): WrkResult {
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) throw new WrkOutputError('wrk printed no result line (did the script load?)', output);
  let raw: unknown;
  try {
    raw = JSON.parse(line.slice(RESULT_PREFIX.length));
  } catch (error: unknown) {
    throw new WrkOutputError(`wrk's result line is not JSON: ${error instanceof Error ? error.message : ''}`, output);
  }
  if (!isRawResult(raw)) throw new WrkOutputError("wrk's result line lacks fields", output);
  const durationS = raw.durationUs / 1e6;
  const ms = (us: number): number => us / 1000;
  const { connect, read, write, timeout, status } = raw.errors;
  return {
    durationS,
    requests: raw.requests,
    rps: durationS > 0 ? raw.requests / durationS : 0,
    latency: {
      minMs: ms(raw.latencyUs.min),
      meanMs: ms(raw.latencyUs.mean),
      p50Ms: ms(raw.latencyUs.p50),
      p90Ms: ms(raw.latencyUs.p90),
      p99Ms: ms(raw.latencyUs.p99),
      p999Ms: ms(raw.latencyUs.p999),
      maxMs: ms(raw.latencyUs.max),
    },
    errors: { connect, read, write, timeout, status },
    errorCount: connect + read + write + timeout + status,
    okResponses: Math.max(0, raw.requests - status),
  };
}
