import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How a stub answers: normally, with an HTTP error status, by dropping the connection unanswered, or as an event
 * stream (`GET /v1/watch`): one event at once, the rest of the response held open until `endStreams`.
 */
export type StubMode = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'close' } | { kind: 'stream' };

export interface StubHit {
  stub: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A stand-in API instance behind the gateway. It records every request it fully received, then answers
 * per its mode. Idle connections stay open longer than the gateway's upstream keepalive_timeout, as the
 * real API (Fastify, 72 s) does.
 */
export class UpstreamStub {
  mode: StubMode = { kind: 'ok' };
  readonly hits: StubHit[] = [];
  private readonly server: Server;
  private readonly streams: ServerResponse[] = [];

  constructor(readonly name: string) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const hit: StubHit = {
          stub: this.name,
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.hits.push(hit);
        const mode = this.mode;
        switch (mode.kind) {
          case 'close':
            req.socket.destroy();
            return;
          case 'status':
            res.writeHead(mode.status, { 'content-type': 'text/plain' }).end(`${this.name} says ${mode.status}`);
            return;
          case 'stream':
            res.writeHead(200, { 'content-type': 'text/event-stream', 'x-served-by': this.name });
            res.write('event: put\nid: 1\ndata: {}\n\n');
            this.streams.push(res);
            return;
          case 'ok':
            res
              .writeHead(200, { 'content-type': 'application/json', 'x-served-by': this.name })
              .end(JSON.stringify({ servedBy: this.name, method: hit.method, bodyLength: hit.body.length }));
            return;
        }
      });
    });
    this.server.keepAliveTimeout = 75_000;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    return this;
  }

  /** Ends every held event stream with a last event. */
  endStreams(): void {
    for (const res of this.streams.splice(0)) res.end('event: put\nid: 2\ndata: {}\n\n');
  }

  reset(): void {
    this.mode = { kind: 'ok' };
    this.hits.length = 0;
  }

  async stop(): Promise<void> {
    this.endStreams();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
