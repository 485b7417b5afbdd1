import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { readStack } from '@keyflow/testing';

/**
 * The gateway under a slow-loris attack, through the real nginx of the test stack: connections that trickle their
 * headers and never finish must neither starve other clients nor be held forever (issue 16, "a gateway that holds").
 */
const stack = readStack();
const SLOW_CONNECTIONS = 2_000;
const sockets: Socket[] = [];

function hostPort(url: string): { host: string; port: number } {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port || 80) };
}

/** Opens a connection and sends the start of a request that it never finishes. */
function slowClient(target: { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ ...target, localAddress: '127.0.0.66' }, () => {
      socket.write('GET /health/live HTTP/1.1\r\nHost: slow\r\nX-Trickle: ');
      resolve(socket);
    });
    socket.on('error', reject);
    sockets.push(socket);
  });
}

/** Resolves when the peer closes the connection. */
function closedByPeer(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) resolve();
    socket.on('close', () => resolve());
    socket.on('end', () => resolve());
  });
}

afterAll(() => {
  for (const socket of sockets) socket.destroy();
});

describe('the gateway under slow clients (e2e)', () => {
  it(
    `should keep answering other clients while ${SLOW_CONNECTIONS} connections trickle their headers, and cut those off`,
    { timeout: 60_000 },
    async () => {
      const [first, second] = stack.gateways;
      if (!first || !second) throw new Error('the test stack needs two gateway addresses');
      const opened = await Promise.allSettled(
        Array.from({ length: SLOW_CONNECTIONS }, () => slowClient(hostPort(first))),
      );
      expect(opened.filter((o) => o.status === 'fulfilled').length).toBe(SLOW_CONNECTIONS);

      // A normal client, through another gateway address, is answered at once.
      const started = performance.now();
      const answer = await fetch(`${second}/health/live`, { signal: AbortSignal.timeout(5_000) });
      expect(answer.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(2_000);

      // The slow ones are cut off once the header timeout (10 s) passes, not held for as long as they like.
      const slow = sockets.slice(0, 50);
      const cut = await Promise.race([
        Promise.all(slow.map(closedByPeer)).then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000)),
      ]);
      expect(cut).toBe(true);
    },
  );
});
