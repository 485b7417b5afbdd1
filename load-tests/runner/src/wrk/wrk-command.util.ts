import { join } from 'node:path';
import { isLoopbackHost } from '../cli/loopback.util';

/** `load-tests/wrk/`, where the Lua scripts are. */
export const WRK_SCRIPT_DIR = join(__dirname, '..', '..', '..', 'wrk');

/**
 * The request profiles wrk runs, each a Lua script in `load-tests/wrk/`:
 * - `health-live`: `GET /health/live`, the cheapest request the API answers (the cache-hit ratio's denominator);
 * - `kv-get`: cache-hit `GET /v1/kv/{key}` over keys the runner wrote and read back first;
 * - `store-put`: `PUT /store {"key","value"}` (the reference store's route) with random keys.
 */
export type WrkProfile = 'health-live' | 'kv-get' | 'store-put';
export const WRK_PROFILES: readonly WrkProfile[] = ['health-live', 'kv-get', 'store-put'];

export interface WrkRunSpec {
  profile: WrkProfile;
  /** The gateway's base URL; only loopback targets are accepted. */
  target: string;
  connections: number;
  threads: number;
  durationS: number;
  /** A request slower than this counts as a timeout error. */
  timeoutS: number;
  token?: string | undefined;
  /** Key prefix (`kv-get`, `store-put`). */
  keyPrefix?: string;
  /** `kv-get`: the pre-written keys `<prefix>-k0 … k<n-1>`; `store-put`: the random key space. */
  keySpace?: number;
  /** `store-put`: length of the written value in characters. */
  valueSize?: number;
}

export interface WrkCommand {
  command: string;
  args: string[];
  /** Added to the runner's environment: the token travels here, not on the command line (`ps` shows that). */
  env: Record<string, string>;
  script: string;
}

export class WrkSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = WrkSpecError.name;
  }
}

/** The Lua script that drives a profile. */
export function wrkScriptFor(profile: WrkProfile, scriptDir: string): string {
  switch (profile) {
    case 'health-live':
      return join(scriptDir, 'health-live.lua');
    case 'kv-get':
      return join(scriptDir, 'kv-get.lua');
    case 'store-put':
      return join(scriptDir, 'store-put.lua');
  }
}

function positiveInteger(name: string, value: number | undefined): number {
  if (value === undefined || !Number.isInteger(value) || value <= 0)
    throw new WrkSpecError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * The `wrk` command line for one run. wrk loads only the gateway on loopback (the stack on this machine), for a
 * bounded time at a bounded number of connections; the script gets its parameters as `name=value` after `--`.
 */
export function buildWrkCommand(spec: WrkRunSpec, scriptDir: string, binary = 'wrk'): WrkCommand {
  const url = new URL(spec.target);
  if (!isLoopbackHost(url.hostname)) throw new WrkSpecError(`wrk loads only loopback targets, not ${spec.target}`);
  const connections = positiveInteger('connections', spec.connections);
  const threads = Math.min(positiveInteger('threads', spec.threads), connections);
  const durationS = positiveInteger('durationS', Math.ceil(spec.durationS));
  const timeoutS = positiveInteger('timeoutS', Math.ceil(spec.timeoutS));
  const base = url.pathname.replace(/\/+$/, '');
  const scriptArgs = [`base=${base}`];
  if (spec.profile !== 'health-live') {
    if (spec.keyPrefix === undefined || !/^[A-Za-z0-9._-]+$/.test(spec.keyPrefix))
      throw new WrkSpecError(`${spec.profile} needs a key prefix of [A-Za-z0-9._-], got ${String(spec.keyPrefix)}`);
    scriptArgs.push(`prefix=${spec.keyPrefix}`, `keys=${positiveInteger('keySpace', spec.keySpace)}`);
  }
  if (spec.profile === 'store-put') scriptArgs.push(`size=${positiveInteger('valueSize', spec.valueSize ?? 128)}`);
  const script = wrkScriptFor(spec.profile, scriptDir);
  return {
    command: binary,
    args: [
      '-t',
      String(threads),
      '-c',
      String(connections),
      '-d',
      `${durationS}s`,
      '--timeout',
      `${timeoutS}s`,
      '-s',
      script,
      url.origin + base,
      '--',
      ...scriptArgs,
    ],
    env: spec.token ? { WRK_TOKEN: spec.token } : {},
    script,
  };
}
