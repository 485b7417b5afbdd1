/**
 * k6 scenario `write-heavy`: 20% GET / 80% PUT at a constant arrival rate.
 * Definition and thresholds: load-tests/scenarios/scenario-definitions.ts; custom metrics (write_visibility, …): lib/kv-load.ts.
 * Run: k6 run load-tests/k6/write-heavy.ts -e BASE_URL=…
 */
import { scenarioScript } from './lib/kv-load.ts';

const script = scenarioScript('write-heavy');

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
