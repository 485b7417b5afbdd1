import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, tryGatewayRequest } from './gateway-client.util';
import type { StackInfo } from './stack-contract';

/** Echoes what it got as JSON, or answers the body `/raw?body=…` names, as it is. */
function echo(req: IncomingMessage, body: string): { status: number; body: string } {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/raw') return { status: 200, body: url.searchParams.get('body') ?? '' };
  return { status: 201, body: JSON.stringify({ method: req.method, headers: req.headers, body }) };
}

describe(gatewayRequest.name, () => {
  let server: Server;
  let stack: StackInfo;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const answer = echo(req, body);
        res.writeHead(answer.status).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const gateway = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    stack = { gateway, token: 'admin-token', stackDir: '/nowhere' } as StackInfo;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('should send a JSON body as the admin, the headers given overriding', async () => {
    const r = await gatewayRequest('PUT', '/v1/kv/a', { body: { value: 1 }, headers: { prefer: 'wait=1' }, stack });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      method: 'PUT',
      body: '{"value":1}',
      headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json', prefer: 'wait=1' },
    });
    const cookie = await gatewayRequest('GET', '/', { headers: { authorization: 'Bearer other' }, stack });
    expect(cookie.json).toMatchObject({ headers: { authorization: 'Bearer other' } });
  });

  it('should send a raw body as it is, and no credentials unless asked to', async () => {
    const r = await gatewayRequest('POST', '/login', {
      rawBody: 'a=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      stack,
      asAdmin: false,
    });
    expect(r.json).toMatchObject({ body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.json.headers).not.toHaveProperty('authorization');
  });

  it('should read an empty body as {}, and a body that is not JSON as text when told to expect that', async () => {
    expect((await gatewayRequest('GET', '/raw', { stack })).json).toEqual({});
    await expect(gatewayRequest('GET', '/raw?body=<html>', { stack })).rejects.toThrow(SyntaxError);
    const html = await gatewayRequest('GET', '/raw?body=<html>', { stack, expectJson: false });
    expect([html.status, html.text, html.json]).toEqual([200, '<html>', {}]);
  });

  it('should answer status 0 through tryGatewayRequest when the request fails', async () => {
    expect((await tryGatewayRequest('GET', '/raw?body=<html>', { stack })).status).toBe(0);
    const down = { ...stack, gateway: 'http://127.0.0.1:1' };
    expect(await tryGatewayRequest('GET', '/', { stack: down })).toMatchObject({ status: 0, json: {}, text: '' });
  });
});
