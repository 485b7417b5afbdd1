import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCli, type CliOptions } from './cli-args.util';
import { runCommand, type CommandContext } from './commands';
import { KeyflowProblem } from '@keyflow/client';
import { CliError } from './cli.exception';

/**
 * The commands against a scripted HTTP server on loopback (the real service is in `e2e/cli.e2e-spec.ts`): what the
 * CLI does when a connection drops or a stream is cut, which the test stack cannot be made to do on demand.
 */
let server: Server;
let url: string;
let handle: (request: IncomingMessage, response: ServerResponse) => void = () => undefined;
const requests: IncomingMessage[] = [];
const dir = mkdtempSync(join(tmpdir(), 'keyflow-cli-commands-'));

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(request);
    handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  requests.length = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function context() {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough();
  const ctx: CommandContext = {
    output: { out: (text) => out.push(text), err: (text) => err.push(text) },
    terminal: { stdinIsTty: false, readStdin: () => Promise.resolve(''), prompt: () => Promise.resolve('') },
    sources: { env: { KEYFLOW_URL: url, KEYFLOW_TOKEN: 'tok' }, cwd: dir, home: dir },
    stdout,
    interrupted: () => new Promise<void>(() => undefined),
  };
  return { ctx, out, err };
}

const run = (argv: string[], ctx: CommandContext) => runCommand(parseCli(argv) as CliOptions, ctx);

const event = (id: number, key = 'p/k') =>
  `event: put\nid: ${id}\ndata: ${JSON.stringify({ key, version: id, value: id, revision: id, updatedAt: '2026-11-23T10:15:30.123Z' })}\n\n`;

describe('watch', () => {
  it('should reconnect after a dropped stream with Last-Event-ID, and print nothing twice', async () => {
    let connection = 0;
    handle = (_request, response) => {
      connection++;
      if (connection === 2) {
        // A gateway with no API behind it for a moment.
        response.writeHead(502, { 'content-type': 'application/problem+json' });
        response.end(JSON.stringify({ status: 502, title: 'Bad gateway', detail: 'no API instance answered' }));
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      if (connection === 1) {
        response.write(`: heartbeat\n\n${event(1)}${event(2)}`);
        // The connection drops in the middle of the third event.
        setTimeout(() => {
          response.write('event: put\nid: 3\nda');
          response.socket?.destroy();
        }, 20);
      } else {
        response.end(`${event(3)}${event(4)}`);
      }
    };
    const { ctx, out, err } = context();
    expect(await run(['watch', 'p/', '--json', '--max-events', '4'], ctx)).toBe(0);
    expect(out.map((line) => (JSON.parse(line) as { revision: number }).revision)).toEqual([1, 2, 3, 4]);
    expect(requests.map((r) => [r.url, r.headers['last-event-id'], r.headers.authorization])).toEqual([
      ['/v1/watch?prefix=p%2F', undefined, 'Bearer tok'],
      ['/v1/watch?prefix=p%2F', '2', 'Bearer tok'],
      ['/v1/watch?prefix=p%2F', '2', 'Bearer tok'],
    ]);
    expect(err).toEqual([
      expect.stringMatching(/^watch: .+; reconnecting after revision 2$/),
      'watch: 502 Bad gateway: no API instance answered; reconnecting after revision 2',
    ]);
  });

  it('should end on an answer a reconnect cannot mend: 410 for a revision too old', async () => {
    handle = (_request, response) => {
      response.writeHead(410, { 'content-type': 'application/problem+json' });
      response.end(
        JSON.stringify({ status: 410, title: 'Gone', detail: 'revision 3 is older than the history kept; list again' }),
      );
    };
    const { ctx } = context();
    await expect(run(['watch', 'p/', '--from-revision', '3'], ctx)).rejects.toThrow(KeyflowProblem);
    // @keyflow/client resumes after a revision with Last-Event-ID, which the API reads as `fromRevision`.
    expect([requests[0]?.url, requests[0]?.headers['last-event-id']]).toEqual(['/v1/watch?prefix=p%2F', '3']);
  });
});

describe('export', () => {
  const backup = (keys: number, body: string) => {
    handle = (_request, response) => {
      response.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'x-keyflow-backup-keys': String(keys),
        'x-keyflow-backup-snapshot': '2026-11-23T10:15:30.123Z',
      });
      response.end(body);
    };
  };
  const line = (k: string) => `{"key":"${k}","value":1,"version":1,"updatedAt":"2026-11-23T10:15:30.123Z"}\n`;

  it('should write a whole snapshot to the file, and report it', async () => {
    backup(2, line('a') + line('b'));
    const { ctx, out, err } = context();
    const file = join(dir, 'whole.jsonl');
    expect(await run(['export', '--out', file, '--prefix', 'a b', '--json'], ctx)).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(line('a') + line('b'));
    expect(requests[0]?.url).toBe('/v1/backup?prefix=a+b');
    expect(JSON.parse(out[0] ?? '')).toEqual({ file, keys: 2, snapshot: '2026-11-23T10:15:30.123Z' });
    expect(err).toEqual([
      expect.stringMatching(/^export: 2 in \d\.\d s \(\d[\d,]*\/s\) keys, snapshot of 2026-11-23T10:15:30.123Z → /),
    ]);
  });

  it('should fail, and leave no file, when the stream has fewer lines than the snapshot announced', async () => {
    backup(3, line('a') + line('b'));
    const { ctx } = context();
    const file = join(dir, 'cut.jsonl');
    await expect(run(['export', '--out', file], ctx)).rejects.toThrow(
      new CliError(`the export ended after 2 of 3 keys: the stream was cut; ${file} was not written`),
    );
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);
  });
});

describe('import', () => {
  it('should send the file in chunks and name the file’s line when the service refuses one', async () => {
    const file = join(dir, 'dump.jsonl');
    const lines = Array.from(
      { length: 1500 },
      (_, i) => `{"key":"k${i}","value":${i},"version":1,"updatedAt":"2026-11-23T10:15:30.123Z"}`,
    );
    writeFileSync(file, `${lines.join('\n')}\n`);
    let call = 0;
    handle = (request, response) => {
      call++;
      request.resume();
      if (call === 1) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ received: 1000, restored: 999, existing: 1, expired: 0 }));
      } else {
        response.writeHead(400, { 'content-type': 'application/problem+json' });
        response.end(
          JSON.stringify({ status: 400, title: 'Invalid request', detail: 'line 7: the key is not welcome' }),
        );
      }
    };
    const { ctx } = context();
    await expect(run(['import', '--in', file], ctx)).rejects.toThrow(
      `${file} line 1007: the key is not welcome; lines 1–1000 were restored (run the import again to continue: existing keys are left alone)`,
    );
    expect(requests.map((r) => [r.method, r.url, r.headers['content-type']])).toEqual([
      ['POST', '/v1/backup/restore', 'application/x-ndjson'],
      ['POST', '/v1/backup/restore', 'application/x-ndjson'],
    ]);
  });
});
