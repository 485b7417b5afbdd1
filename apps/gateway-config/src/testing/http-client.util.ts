import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request on a fresh connection (no agent), so no test depends on another's keep-alive state.
 * With `ca` it speaks HTTPS and verifies the server's certificate against that CA (a self-signed certificate is
 * its own CA) for `servername`.
 */
export function httpRequest(
  port: number,
  {
    method = 'GET',
    path = '/',
    headers = {},
    body,
    host = '127.0.0.1',
    ca,
    servername,
    localAddress,
  }: {
    method?: string;
    path?: string;
    headers?: OutgoingHttpHeaders;
    body?: string;
    host?: string;
    ca?: string;
    servername?: string;
    /** Source address of the connection, e.g. another loopback address to appear as another client. */
    localAddress?: string;
  },
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const options = { host, port, method, path, headers, localAddress, agent: false as const };
    const send = ca === undefined ? request : httpsRequest;
    const req = send(ca === undefined ? options : { ...options, ca, servername }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends `text` as it is on a fresh connection and parses what comes back until the server closes it: for requests
 * no HTTP client would send (a broken request line, bad percent-encoding, oversized headers). The answer must be a
 * complete HTTP/1.x response after which the server closes the connection, as nginx does after a bad request.
 */
export function rawHttpRequest(port: number, text: string, host = '127.0.0.1'): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Written, not ended: a half-closed connection could make nginx give up before answering.
    const socket = connect({ host, port }, () => socket.write(text));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const end = raw.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      if (end < 0 || !status) {
        reject(new Error(`not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`));
        return;
      }
      const headers: IncomingHttpHeaders = {};
      for (const line of raw.slice(0, end).split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(status[1]), headers, body: raw.slice(end + 4) });
    });
  });
}
