/**
 * Child-process entry of the baseline server, so it gets its own event loop (and RSS) like an API instance
 * instead of sharing the load generator's. Prints `{"port":N}` once listening; exits on SIGTERM/SIGINT.
 */
import { buildHelloServer } from './hello-server';

async function main(): Promise<void> {
  const app = buildHelloServer();
  await app.listen({ host: '127.0.0.1', port: Number(process.env.HELLO_PORT ?? '0') });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  const close = (): void => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
