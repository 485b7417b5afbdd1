/**
 * k6 scenario `sustained-writes`: PUT at 2,000/s: write visibility p99 and a backlog that must not grow.
 * Definition and thresholds: load-tests/scenarios/scenario-definitions.ts; custom metrics (write_visibility, …): lib/kv-load.ts.
 * Run: k6 run load-tests/k6/sustained-writes.ts -e BASE_URL=…
 */
import { scenarioScript } from './lib/kv-load.ts';

const script = scenarioScript('sustained-writes');

export const options = script.options;
export const setup = script.setup;
export default script.iteration;
export const teardown = script.teardown;
