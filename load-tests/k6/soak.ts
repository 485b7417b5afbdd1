/**
 * k6 scenario `soak`: 10 minutes of a moderate mixed load.
 * Definition and thresholds: load-tests/scenarios/scenarios.ts; custom metrics (write_visibility, …): lib/kv-load.ts.
 * Run: k6 run load-tests/k6/soak.ts -e BASE_URL=…
 */
import {
  buildOptions,
  drainBacklog,
  loadScenario,
  readEnv,
  runIteration,
  setupKeys,
  type SetupData,
} from './lib/kv-load.ts';

const env = readEnv();
const scenario = loadScenario('soak', env);

export const options = buildOptions(scenario, env);

export function setup(): SetupData {
  return setupKeys(scenario, env);
}

export default function (data: SetupData): void {
  runIteration(scenario, env, data);
}

export function teardown(data: SetupData): void {
  drainBacklog(scenario, env, data);
}
