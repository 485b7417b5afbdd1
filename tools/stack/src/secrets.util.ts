import type { Topology } from '@keyflow/topology';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from './stack.exception';
import type { StackLayout } from './stack-layout.util';

/** One login: the user name and its password. */
export interface Credential {
  username: string;
  password: string;
}

/**
 * Every password of one stack, in `<stackDir>/secrets.json` (mode 0600). Made on the first `up`, kept across
 * `down`/`up`, deleted with the data by `reset`. Never in git (the stack dir is ignored), never printed: the
 * servers get them from their own configs (mode 0600 as well), the apps from their environment.
 */
export interface StackSecrets {
  redis: {
    /** The apps: only the commands and key patterns keyflow uses (see `redisAclUsers`). */
    app: Credential;
    /** The stack's own tools and the tests: `--cluster create`, health checks, SHUTDOWN. */
    admin: Credential;
    /** Replicas log in to their master with it (`masteruser`/`masterauth`): PSYNC, REPLCONF, PING only. */
    replication: Credential;
  };
  postgres: {
    /** Patroni, the stack (roles, extensions) and nothing else. */
    superuser: Credential;
    /** The apps and the migrations: owns keyflow's database, not a superuser. */
    app: Credential;
    replication: Credential;
    rewind: Credential;
    /** Patroni's REST API: the write endpoints (switchover, restart, reinitialize, config) need it. */
    restApi: Credential;
  };
  rabbitmq: {
    /** The apps: configure/write/read on the `vhost` only. */
    app: Credential;
    vhost: string;
    /** Administrator: the management UI and API, the stack's health checks. */
    admin: Credential;
  };
  haproxyStats: Credential;
}

export const SECRETS_FILE = 'secrets.json';

export function secretsFile(layout: Pick<StackLayout, 'stackDir'>): string {
  return join(layout.stackDir, SECRETS_FILE);
}

/** 144 random bits, URL-safe (`[A-Za-z0-9_-]`): fits in a URL, a config line and a shell word unquoted. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Fresh secrets for a topology; `previous` (an older stack's PostgreSQL role passwords) is kept. */
export function generateSecrets(
  topology: Pick<Topology, 'database'>,
  previous: Partial<Record<'superuser' | 'replication' | 'rewind', string>> = {},
): StackSecrets {
  const cred = (username: string, password = newPassword()): Credential => ({ username, password });
  return {
    redis: { app: cred('keyflow'), admin: cred('keyflow-admin'), replication: cred('keyflow-replica') },
    postgres: {
      superuser: cred('postgres', previous.superuser),
      app: cred(topology.database.user),
      replication: cred('replicator', previous.replication),
      rewind: cred('rewinder', previous.rewind),
      restApi: cred('patroni'),
    },
    rabbitmq: { app: cred('keyflow'), vhost: 'keyflow', admin: cred('keyflow-admin') },
    haproxyStats: cred('admin'),
  };
}

/**
 * The stack's secrets: read from `secrets.json`, or made (and written, 0600) on the first start. A stack whose data
 * predates the file keeps the PostgreSQL passwords Patroni already set (`data/postgres-secrets.json`).
 */
export function ensureSecrets(
  layout: Pick<StackLayout, 'stackDir' | 'data'>,
  topology: Pick<Topology, 'database'>,
): {
  secrets: StackSecrets;
  created: boolean;
} {
  const existing = readSecrets(layout);
  if (existing) return { secrets: existing, created: false };
  const legacy = join(layout.data, 'postgres-secrets.json');
  const previous = existsSync(legacy)
    ? (JSON.parse(readFileSync(legacy, 'utf8')) as Partial<Record<'superuser' | 'replication' | 'rewind', string>>)
    : {};
  const secrets = generateSecrets(topology, previous);
  const file = secretsFile(layout);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return { secrets, created: true };
}

/** The secrets of a stack started before, or undefined; a file others can read is made private again. */
export function readSecrets(layout: Pick<StackLayout, 'stackDir'>): StackSecrets | undefined {
  const file = secretsFile(layout);
  if (!existsSync(file)) return undefined;
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackSecrets;
  } catch (err) {
    throw new StackError(
      `${file} is not valid JSON: ${(err as Error).message}`,
      undefined,
      'restore it, or discard the stack with `npm run reset` (the servers hold these passwords)',
    );
  }
}

/** For `down`, `status` and `restart`, which never make secrets: a stack with servers has its file. */
export function requireSecrets(layout: Pick<StackLayout, 'stackDir'>): StackSecrets {
  const secrets = readSecrets(layout);
  if (!secrets) {
    throw new StackError(`no ${secretsFile(layout)}: this stack was never started with credentials`);
  }
  return secrets;
}

/** A URL with its password replaced by `***`: what logs and status output show. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@\s]*@/i, '$1:***@');
}
