import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, readStack, type StackInfo } from '@keyflow/testing';

/**
 * TLS by default: the stack made its own certificate authority and a gateway certificate it signed; every gateway
 * serves HTTPS that a client trusting only that CA accepts, and a login over HTTPS sets a Secure session cookie.
 */
const execFileAsync = promisify(execFile);

let stack: StackInfo;
let ca: string;

function httpsPost(url: string, body: unknown): Promise<{ status: number; setCookie: string[] }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('TLS at the gateways (e2e)', { timeout: 60_000 }, () => {
  beforeAll(() => {
    stack = readStack();
    if (!stack.ca || !stack.httpsGateways?.length)
      throw new Error('the test stack should have TLS (ca, httpsGateways)');
    ca = readFileSync(stack.ca, 'utf8');
  });

  it('should answer `curl --cacert <ca>` over HTTPS on every gateway', async () => {
    for (const url of stack.httpsGateways ?? []) {
      const { stdout } = await execFileAsync('curl', [
        ...['-sS', '--cacert', stack.ca ?? '', '-o', '/dev/null', '-w', '%{http_code} %{ssl_verify_result}'],
        `${url}/health/ready`,
      ]);
      expect({ url, answer: stdout }).toEqual({ url, answer: '200 0' });
    }
  });

  it('should present a certificate for the DNS names that only the stack CA vouches for', async () => {
    const [first] = stack.httpsGateways ?? [];
    const { host, port } = new URL(first ?? '');
    for (const name of ['api.keyflow.test', 'www.keyflow.test']) {
      const { stdout } = await execFileAsync('curl', [
        ...['-sS', '--cacert', stack.ca ?? '', '--resolve', `${name}:${port}:${host.split(':')[0]}`],
        ...['-o', '/dev/null', '-w', '%{http_code}', `https://${name}:${port}/health/ready`],
      ]);
      expect({ name, status: stdout }).toEqual({ name, status: '200' });
    }
    // Without the CA the same request is refused: the certificate is not self-signed by the gateway nor public.
    const untrusted = await execFileAsync('curl', ['-sS', '-o', '/dev/null', `${first}/health/ready`]).catch(
      (err: { code?: number }) => err,
    );
    expect(untrusted).toMatchObject({ code: 60 });
  });

  it('should set the session cookie Secure over HTTPS and not over plain HTTP', async () => {
    const username = `tls-${randomUUID().slice(0, 8)}`;
    const password = 'correct horse battery staple';
    const created = await gatewayRequest('POST', '/v1/users', { stack, body: { username, password, role: 'user' } });
    expect(created.status).toBe(201);
    const overTls = await httpsPost(`${stack.httpsGateways?.[0]}/v1/auth/login`, { username, password });
    expect(overTls.status).toBe(200);
    const tlsCookie = overTls.setCookie.find((c) => c.startsWith('keyflow_session=')) ?? '';
    expect(tlsCookie.split(/;\s*/).map((p) => p.toLowerCase())).toEqual(
      expect.arrayContaining(['secure', 'httponly', 'samesite=lax']),
    );
    const plain = await gatewayRequest('POST', '/v1/auth/login', {
      stack,
      body: { username, password },
      asAdmin: false,
    });
    expect(plain.status).toBe(200);
    expect((plain.headers.get('set-cookie') ?? '').toLowerCase()).not.toContain('secure');
  });
});
