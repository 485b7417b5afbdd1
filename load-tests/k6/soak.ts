/**
 * k6 scenario `soak`: 10 minutes of a moderate mixed load.
 * Definition and thresholds: load-tests/scenarios/scenario-definitions.ts; custom metrics (write_visibility, …): lib/kv-load.ts.
 * Run: k6 run load-tests/k6/soak.ts -e BASE_URL=…
 */
import { scenarioScript } from './lib/kv-load.ts';

const script = scenarioScript('soak');

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
