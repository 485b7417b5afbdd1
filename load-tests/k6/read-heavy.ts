/**
 * k6 scenario `read-heavy`: 95% GET / 5% PUT at a constant arrival rate.
 * Definition and thresholds: load-tests/scenarios/scenario-definitions.ts; custom metrics (write_visibility, …): lib/kv-load.ts.
 * Run: k6 run load-tests/k6/read-heavy.ts -e BASE_URL=…
 */
import { scenarioScript } from './lib/kv-load.ts';

const script = scenarioScript('read-heavy');

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
