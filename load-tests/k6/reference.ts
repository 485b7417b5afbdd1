/**
 * k6 scenario `reference`: The reference KV store's published profile: 300 VUs, 30 s ramp-up, 60,000 requests on /store.
 * Definition and thresholds: load-tests/scenarios/scenario-definitions.ts; custom metrics (write_visibility, …): lib/kv-load.ts.
 * Run: k6 run load-tests/k6/reference.ts -e BASE_URL=…
 */
import { scenarioScript } from './lib/kv-load.ts';

const script = scenarioScript('reference');

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
