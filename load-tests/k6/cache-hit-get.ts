/**
 * k6 scenario `cache-hit-get`: GET of pre-written keys with 64 VUs (closed model); compare with the baseline via BASELINE_RPS.
 * Definition and thresholds: load-tests/scenarios/scenario-definitions.ts; custom metrics (write_visibility, …): lib/kv-load.ts.
 * Run: k6 run load-tests/k6/cache-hit-get.ts -e BASE_URL=…
 */
import { scenarioScript } from './lib/kv-load.ts';

const script = scenarioScript('cache-hit-get');

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
