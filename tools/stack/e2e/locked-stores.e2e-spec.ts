import {
  gatewayRequest,
  readStack,
  redisLogin,
  redisNodes,
  type StackCredential,
  type StackInfo,
} from '@keyflow/testing';
import { connect as amqpConnect } from 'amqplib';
import { Cluster, Redis } from 'ioredis';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 16, "locked data stores": every server of the test stack refuses a client without the stack's credentials,
// the apps' own logins reach only what the apps need, and the passwords stay in their 0600 file (no log has one).

const exec = promisify(execFile);
let stack: StackInfo;

/** Runs a client tool and resolves with its exit code and output, never rejecting on a non-zero exit. */
async function tool(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec(command, args, { env: { ...process.env, ...env }, timeout: 15_000 });
    return { code: 0, out: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const basic = (c: StackCredential): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  await res.body?.cancel();
  return res.status;
}

/** Every password in the stack's secrets file. */
function passwords(): string[] {
  const found: string[] = [];
  JSON.stringify(JSON.parse(readFileSync(stack.secretsFile, 'utf8')), (key, value: unknown) => {
    if (key === 'password' && typeof value === 'string') found.push(value);
    return value;
  });
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

describe('locked data stores (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  describe('Redis', () => {
    let app: Cluster;
    let admins: Redis[] = [];
    beforeAll(() => {
      app = new Cluster(redisNodes(stack), { redisOptions: { ...redisLogin('app', stack), maxRetriesPerRequest: 1 } });
      admins = redisNodes(stack).map((n) => new Redis({ ...n, ...redisLogin('admin', stack), lazyConnect: true }));
    });
    afterAll(() => {
      app.disconnect();
      for (const a of admins) a.disconnect();
    });

    it('should answer NOAUTH to redis-cli without credentials, on every node', async () => {
      for (const node of redisNodes(stack)) {
        const res = await tool('redis-cli', ['-h', node.host, '-p', String(node.port), 'SET', 'session:forged', 'x']);
        expect(res.out).toContain('NOAUTH');
      }
    });

    it('should refuse a wrong password and the default user', async () => {
      const [node] = redisNodes(stack);
      const at = ['-h', node?.host ?? '', '-p', String(node?.port)];
      const wrong = await tool('redis-cli', [...at, '--user', stack.credentials.redis.app.username, 'PING'], {
        REDISCLI_AUTH: 'wrong',
      });
      expect(wrong.out).toContain('WRONGPASS');
      const asDefault = await tool('redis-cli', [...at, '--user', 'default', 'PING'], { REDISCLI_AUTH: 'anything' });
      expect(asDefault.out).toContain('WRONGPASS');
    });

    it("should let the apps' user use its own keys and nothing of the server's", async () => {
      const key = `session:locked-stores-${randomUUID()}`;
      expect(await app.set(key, '{}', 'PX', 5_000)).toBe('OK');
      expect(await app.del(key)).toBe(1);
      await expect(app.call('CONFIG', 'GET', 'maxmemory')).rejects.toThrow(/NOPERM/);
      await expect(app.flushall()).rejects.toThrow(/NOPERM/);
      await expect(app.keys('*')).rejects.toThrow(/NOPERM/);
      await expect(app.call('SCAN', '0')).rejects.toThrow(/NOPERM/);
      await expect(app.call('ACL', 'LIST')).rejects.toThrow(/NOPERM/);
      await expect(app.get('elsewhere:x')).rejects.toThrow(/NOPERM/);
      await expect(app.set('backup:x', '1')).rejects.toThrow(/NOPERM/);
    });

    it('should never refuse a command the apps send while they serve reads, writes, logins and tokens', async () => {
      for (const a of admins) await a.acl('LOG', 'RESET');
      const key = `locked-stores-${randomUUID()}`;
      const put = await gatewayRequest('PUT', `/v1/kv/${key}`, {
        body: { value: 'v' },
        headers: { prefer: 'wait=10' },
        stack,
      });
      expect(put.status).toBe(201);
      expect((await gatewayRequest('GET', `/v1/kv/${key}`, { stack })).status).toBe(200);
      expect((await gatewayRequest('GET', `/v1/kv/${key}`, { stack })).status).toBe(200);
      expect((await gatewayRequest('GET', '/v1/auth/me', { stack })).status).toBe(200);
      const badLogin = await gatewayRequest('POST', '/v1/auth/login', {
        body: { username: `nobody-${randomUUID()}`, password: 'wrong-password' },
        asAdmin: false,
        stack,
      });
      expect(badLogin.status).toBe(401);
      const deleted = await gatewayRequest('DELETE', `/v1/kv/${key}`, { headers: { prefer: 'wait=10' }, stack });
      expect(deleted.status).toBe(204);
      const refused = (await Promise.all(admins.map((a) => a.acl('LOG')))).flat() as unknown[][];
      const appUser = stack.credentials.redis.app.username;
      const byApps = refused.filter((entry) => entry.includes(appUser));
      expect(byApps, JSON.stringify(byApps)).toEqual([]);
    });
  });

  describe('PostgreSQL', () => {
    const node = (): { host: string; port: number } => {
      const pg = stack.processes.find((p) => p.kind === 'postgres');
      return { host: pg?.host ?? '127.0.0.1', port: pg?.port ?? 0 };
    };

    it('should refuse psql -U postgres without a password over TCP, through HAProxy and over the local socket', async () => {
      const { host, port } = node();
      const write = new URL(stack.db.write);
      const socketDir = join(stack.stackDir, 'run', 'postgres');
      for (const [h, p] of [
        [host, port],
        [write.hostname, Number(write.port)],
        [socketDir, port],
      ] as const) {
        const res = await tool(
          'psql',
          ['-w', '-X', '-h', h, '-p', String(p), '-U', 'postgres', '-d', 'postgres', '-c', 'SELECT 1'],
          {
            PGPASSWORD: '',
            PGPASSFILE: '/dev/null',
          },
        );
        expect(res.code, `${h}:${p}`).not.toBe(0);
        expect(res.out, `${h}:${p}`).toMatch(/no password supplied|password authentication failed/);
      }
    });

    it('should ask for a SCRAM password on every pg_hba line of every node, and trust none', async () => {
      for (const url of stack.db.replicas) {
        const u = new URL(url);
        u.username = stack.credentials.dbSuperuser.username;
        u.password = stack.credentials.dbSuperuser.password;
        const client = new Client({ connectionString: u.toString() });
        await client.connect();
        try {
          const { rows } = await client.query<{ type: string; auth_method: string }>(
            'SELECT type, auth_method FROM pg_hba_file_rules',
          );
          expect(rows.length).toBeGreaterThan(0);
          expect(rows.some((r) => r.type === 'local')).toBe(true);
          expect(new Set(rows.map((r) => r.auth_method))).toEqual(new Set(['scram-sha-256']));
        } finally {
          await client.end();
        }
      }
    });

    it('should give the application role its own database and no superuser powers (no COPY … TO PROGRAM)', async () => {
      const client = new Client({ connectionString: stack.db.write });
      await client.connect();
      try {
        const { rows } = await client.query<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
          'SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user',
        );
        expect(rows).toEqual([{ rolsuper: false, rolcreaterole: false, rolcreatedb: false }]);
        await expect(client.query("COPY (SELECT 1) TO PROGRAM 'id'")).rejects.toThrow(
          /must be superuser or have privileges of the pg_execute_server_program role/,
        );
        await expect(client.query("SELECT pg_read_file('/etc/hostname')")).rejects.toThrow(/permission denied/);
        await expect(client.query('ALTER ROLE current_user SUPERUSER')).rejects.toThrow(
          /permission denied|must be superuser/,
        );
      } finally {
        await client.end();
      }
    });

    it("should keep Patroni's REST API readable for HAProxy and its write endpoints behind a login", async () => {
      const [api] = stack.patroni;
      expect(await status(`${api}/cluster`)).toBe(200);
      const switchover = (auth?: string) =>
        status(`${api}/switchover`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body: '{}',
        });
      expect(await switchover()).toBe(401);
      expect(await switchover(basic({ username: 'patroni', password: 'wrong' }))).toBe(401);
      // With the login, the request is only refused for what it says (no leader or candidate named).
      expect(await switchover(basic(stack.credentials.patroni))).toBe(400);
    });
  });

  describe('RabbitMQ', () => {
    it('should refuse guest/guest on every node and through HAProxy', async () => {
      const urls = [...stack.amqp, stack.amqpGateway].map((u) => {
        const url = new URL(u);
        url.username = 'guest';
        url.password = 'guest';
        url.pathname = '/';
        return url.toString();
      });
      for (const url of urls)
        await expect(amqpConnect(url), url.replace(/guest@/, '…@')).rejects.toThrow(/ACCESS_REFUSED|403/);
    });

    it("should keep the apps' user in its own vhost", async () => {
      const ok = await amqpConnect(stack.amqpGateway);
      await ok.close();
      const other = new URL(stack.amqpGateway);
      other.pathname = '/';
      // RabbitMQ closes the connection at `connection.open` (530 NOT_ALLOWED, "access to vhost '/' refused").
      await expect(amqpConnect(other.toString())).rejects.toThrow(/NOT_ALLOWED|ConnectionClose/);
    });

    it('should answer 401 on the management API without the administrator, guest and the apps included', async () => {
      const url = `${stack.management}/api/overview`;
      expect(await status(url)).toBe(401);
      expect(await status(url, { headers: { authorization: basic({ username: 'guest', password: 'guest' }) } })).toBe(
        401,
      );
      const amqp = new URL(stack.amqpGateway);
      const appLogin = { username: decodeURIComponent(amqp.username), password: decodeURIComponent(amqp.password) };
      expect(await status(url, { headers: { authorization: basic(appLogin) } })).toBe(401);
      const admin = { username: stack.managementUser, password: stack.managementPassword };
      expect(await status(url, { headers: { authorization: basic(admin) } })).toBe(200);
    });
  });

  describe('HAProxy', () => {
    it('should answer 401 on the stats page without its login, 200 with it', async () => {
      expect(await status(stack.haproxyStats)).toBe(401);
      const wrong = { username: stack.credentials.haproxyStats.username, password: 'wrong' };
      expect(await status(stack.haproxyStats, { headers: { authorization: basic(wrong) } })).toBe(401);
      const login = basic(stack.credentials.haproxyStats);
      expect(await status(stack.haproxyStats, { headers: { authorization: login } })).toBe(200);
    });
  });

  describe('the secrets file', () => {
    it('should be readable by its owner only, as are stack.json and the configs that carry a password', () => {
      const conf = join(stack.stackDir, 'conf');
      const carriers = [
        stack.secretsFile,
        join(stack.stackDir, 'stack.json'),
        join(conf, 'supervisord.conf'),
        ...stack.processes
          .filter((p) => p.kind === 'redis' || p.kind === 'rabbitmq')
          .map((p) => join(conf, `${p.name}.conf`)),
      ];
      expect(carriers.length).toBeGreaterThan(4);
      for (const file of carriers) expect(statSync(file).mode & 0o077, file).toBe(0);
    });

    it('should have none of its passwords in any log under the stack dir', () => {
      const secrets = passwords();
      expect(secrets.length).toBeGreaterThan(5);
      const logs = [
        ...filesUnder(join(stack.stackDir, 'logs')),
        ...filesUnder(join(stack.stackDir, 'run')).filter((f) => f.endsWith('.log')),
      ];
      expect(logs.length).toBeGreaterThan(10);
      const leaks = logs.flatMap((file) => {
        const text = readFileSync(file);
        return secrets.flatMap((s, i) => (text.includes(s) ? [`${file} has password #${i}`] : []));
      });
      expect(leaks).toEqual([]);
    });
  });
});
