/**
 * Runs the fake keyflow API by hand, to try the load runner without the real stack:
 *   node -r @swc-node/register load-tests/runner/src/testing/fake-keyflow.main.ts [--port 28480] [--apply-delay-ms 5]
 *   npm run bench -- --target http://127.0.0.1:28480 --scenario read-heavy --scale 0.05 --skip-baseline
 */
import { parseArgs } from 'node:util';
import { buildFakeKeyflow } from './fake-keyflow.server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '28480' },
      host: { type: 'string', default: '127.0.0.1' },
      'apply-delay-ms': { type: 'string', default: '5' },
      token: { type: 'string' },
    },
  });
  const app = buildFakeKeyflow({ applyDelayMs: Number(values['apply-delay-ms']), token: values.token });
  const address = await app.listen({ host: values.host, port: Number(values.port) });
  console.log(`fake keyflow listening on ${address}`);
  const close = (): void => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGINT', close);
  process.once('SIGTERM', close);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
