import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

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
