import type { StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type Credential, requireSecrets, type StackSecrets } from '../secrets.util';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { StackError } from '../stack.exception';
import type { StackLayout } from '../stack-layout.util';
import { asUser, isRoot, run, terminate } from '../util/process.util';
import { httpJson, httpStatus, waitUntil } from '../util/wait.util';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const OS_USER = 'postgres';

type Database = Topology['database'];
type DbNode = Database['nodes'][number];
type Failover = NonNullable<Database['failover']>;

/** `pg-1` → `postgres-1`, `pg-primary` → `postgres-primary`. */
export function postgresProcessName(nodeName: string): string {
  return `postgres-${nodeName.replace(/^pg-/, '')}`;
}

/**
 * Settings every node shares. Patroni keeps them in etcd (the cluster-wide part of its configuration) and
 * writes them into each node's postgresql.conf; it refuses to start a replica whose settings differ.
 */
export function clusterParameters(): Record<string, string | number> {
  return {
    max_connections: 200,
    wal_level: 'replica',
    max_wal_senders: 10,
    max_replication_slots: 10,
    hot_standby: 'on',
    // pg_rewind needs hint bits in the WAL: the old primary rejoins as a replica without a full copy.
    wal_log_hints: 'on',
    // Durability is a product guarantee: an applied write survives a crash of the machine.
    fsync: 'on',
    synchronous_commit: 'on',
    shared_buffers: '128MB',
    // SERIALIZABLE keeps read locks (SIREAD) until commit. Past max_pred_locks_per_transaction / 2 of them on one
    // relation, PostgreSQL trades them for one lock on the whole table, and then every other shard's batch
    // "conflicts" with it (40001 storms under load). A batch holds up to ~250 keys; 1024 keeps them row-level.
    // (CockroachDB, the production database, tracks reads per key and has no such escalation.)
    max_pred_locks_per_transaction: 1024,
    // A retried 40001 is routine; logging each failed statement (a batch has ~1,000 parameters) is not.
    log_min_error_statement: 'fatal',
    logging_collector: 'off',
  };
}

/**
 * Every connection logs in with a password (SCRAM), the local socket included: no `trust`, no `peer`, so no OS
 * user (root included) reaches a role without its password, and `COPY … TO PROGRAM` stays with the superuser.
 */
export const PG_HBA = [
  'local   all          all                 scram-sha-256',
  'host    all          all   127.0.0.1/32  scram-sha-256',
  'local   replication  all                 scram-sha-256',
  'host    replication  all   127.0.0.1/32  scram-sha-256',
];

/**
 * A SCRAM-SHA-256 verifier of `password` (what PostgreSQL stores): `ALTER ROLE … PASSWORD '<verifier>'` sets the
 * password without the password itself ever being in a statement, a command line or a server log.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  const b64 = (b: Buffer): string => b.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** Patroni's configuration of one node (YAML): the roles Patroni creates and its REST API's login. */
export function patroniConfig(
  node: DbNode,
  db: Database & { failover: Failover },
  layout: Pick<StackLayout, 'data' | 'run'>,
  secrets: StackSecrets['postgres'],
): Record<string, unknown> {
  const f = db.failover;
  const restApi = `${node.host}:${node.restApiPort ?? 8008}`;
  return {
    scope: f.scope,
    namespace: '/keyflow/',
    name: node.name,
    // Reads (GET/OPTIONS /primary, /replica, /cluster: HAProxy's checks, the stack's) stay open; the write
    // endpoints (switchover, failover, restart, reinitialize, config) need this login.
    restapi: {
      listen: restApi,
      connect_address: restApi,
      authentication: { username: secrets.restApi.username, password: secrets.restApi.password },
    },
    // etcd's v2 API, not etcd3: Patroni 3.0.2 (Debian 12) with etcd3 lets a primary that hung past its lease take
    // the leader key back from the replica just promoted (measured; fixed upstream in 3.0.3, patroni#2689). The v2
    // client renews the key only while it still holds it (test-and-set on its own name).
    etcd: { hosts: `${f.etcd.host}:${f.etcd.clientPort}` },
    bootstrap: {
      dcs: {
        ttl: f.ttl,
        loop_wait: f.loopWait,
        retry_timeout: f.retryTimeout,
        // A replica more than 1 MiB behind is never promoted.
        maximum_lag_on_failover: 1_048_576,
        // Commits wait for one synchronous replica, and Patroni promotes only that replica (or the old primary):
        // a commit the worker saw is never lost with the primary.
        synchronous_mode: f.synchronous,
        synchronous_mode_strict: false,
        // No failsafe mode: with it, Patroni 3.0 promoted no replica at all when a frozen primary could not be
        // asked (measured). etcd runs under the supervisor and is back within seconds when it dies; meanwhile
        // the primary demotes itself after the TTL, so writes pause but never split.
        failsafe_mode: false,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: clusterParameters() },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, 'data-checksums'],
    },
    postgresql: {
      listen: `${node.host}:${node.port}`,
      connect_address: `${node.host}:${node.port}`,
      data_dir: join(layout.data, 'postgres', node.name),
      bin_dir: PG_BIN,
      pgpass: join(layout.data, 'postgres', `.pgpass-${node.name}`),
      pg_hba: PG_HBA,
      authentication: {
        superuser: { ...secrets.superuser },
        replication: { ...secrets.replication },
        rewind: { ...secrets.rewind },
      },
      parameters: {
        unix_socket_directories: join(layout.run, 'postgres'),
        // Per-statement counts and times for `npm run bench` (issue 14's profiles); a node-level setting so that a
        // cluster bootstrapped before it gets it at its next start. Its cost is a hash lookup per statement.
        shared_preload_libraries: 'pg_stat_statements',
      },
      create_replica_methods: ['basebackup'],
      basebackup: [{ checkpoint: 'fast' }],
      // When pg_rewind cannot rejoin the old primary, Patroni copies it afresh instead of giving up.
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
    },
    watchdog: { mode: 'off' },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

interface PatroniMember {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
}

/**
 * PostgreSQL under Patroni: one etcd (Patroni's consensus store) and a Patroni per node, each running its
 * PostgreSQL. Patroni bootstraps the cluster (initdb on the node whose topology role is primary, pg_basebackup
 * for the others), keeps one synchronous replica, promotes a replica when the primary dies, and rejoins the old
 * primary with pg_rewind. HAProxy follows Patroni's REST API (`/primary`, `/replica`).
 */
export class PostgresService implements StackComponent {
  private ids: [number, number] | undefined;

  constructor(private readonly layout: StackLayout) {}

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    const db = requireFailover(topology.database);
    const etcd = db.failover.etcd;
    const base = join(layout.data, 'postgres');
    this.ownedDir(base, 0o700);
    this.ownedDir(join(layout.run, 'postgres'));
    mkdirSync(join(layout.data, 'etcd'), { recursive: true, mode: 0o700 });
    const secrets = requireSecrets(layout).postgres;
    const etcdUrl = (port: number): string => `http://${etcd.host}:${port}`;
    const etcdName = `keyflow-${topology.name}`;
    const programs: SupervisedProcess[] = [
      {
        spec: {
          name: 'etcd',
          group: 'etcd',
          command: 'etcd',
          args: [
            ...['--name', etcdName, '--data-dir', join(layout.data, 'etcd')],
            ...['--listen-client-urls', etcdUrl(etcd.clientPort), '--advertise-client-urls', etcdUrl(etcd.clientPort)],
            ...['--listen-peer-urls', etcdUrl(etcd.peerPort), '--initial-advertise-peer-urls', etcdUrl(etcd.peerPort)],
            ...['--initial-cluster', `${etcdName}=${etcdUrl(etcd.peerPort)}`, '--initial-cluster-state', 'new'],
            // Patroni renews its leader key every loop: compact the history hourly so the store stays small.
            ...['--auto-compaction-mode', 'periodic', '--auto-compaction-retention', '1h'],
            ...['--logger', 'zap', '--log-outputs', 'stderr'],
            // Patroni talks to etcd's v2 API (see patroniConfig).
            '--enable-v2=true',
          ],
          cwd: layout.stackDir,
          priority: 50,
          startSecs: 2,
          startRetries: 5,
          stopWaitSecs: 15,
        },
        proc: { name: 'etcd', kind: 'etcd', host: etcd.host, port: etcd.clientPort },
      },
    ];
    for (const node of db.nodes) {
      const name = postgresProcessName(node.name);
      const conf = join(layout.conf, `patroni-${node.name}.yml`);
      writeFileSync(conf, stringify(patroniConfig(node, db, layout, secrets)), { mode: 0o640 });
      if (isRoot()) chownSync(conf, 0, this.postgresIds()[1]);
      programs.push({
        spec: {
          name,
          group: 'postgres',
          command: 'patroni',
          args: [conf],
          cwd: base,
          ...(isRoot() ? { user: OS_USER } : {}),
          priority: 100,
          startSecs: 3,
          startRetries: 5,
          // Patroni stops PostgreSQL (fast mode) before it exits.
          stopWaitSecs: 60,
        },
        proc: {
          name,
          kind: 'postgres',
          host: node.host,
          port: node.port,
          restApiPort: node.restApiPort,
          dataDir: join(base, node.name),
        },
      });
    }
    return programs;
  }

  async ensure({ topology, layout, progress, supervisor }: StartContext): Promise<void> {
    const db = requireFailover(topology.database);
    const etcd = db.failover.etcd;
    await this.checkAccess(join(layout.data, 'postgres'));
    await supervisor.startGroup('etcd');
    await waitUntil(async () => (await httpStatus(`http://${etcd.host}:${etcd.clientPort}/health`)) === 200, {
      timeoutMs: 30_000,
      what: `etcd on ${etcd.host}:${etcd.clientPort}`,
    });
    progress.line('etcd', `up on ${etcd.host}:${etcd.clientPort}`);

    const fresh = db.nodes.every((n) => !existsSync(join(layout.data, 'postgres', n.name, 'PG_VERSION')));
    const bootstrap = db.nodes.find((n) => n.role === 'primary') ?? db.nodes[0];
    if (!bootstrap) throw new StackError('database.nodes is empty');
    if (fresh) {
      // The node with role primary initialises the cluster alone; the others then copy it.
      await supervisor.startGroup(`postgres:${postgresProcessName(bootstrap.name)}`);
      await this.waitForLeader(db, 120_000);
      progress.line('postgres', `${bootstrap.name} bootstrapped the cluster and leads it`);
    }
    // With data, every node starts at once: Patroni lets only the most advanced eligible node lead.
    await supervisor.startGroup('postgres');
    const leader = await this.waitForLeader(db, 120_000);
    await this.ensureAppDatabase(db, leader);
    await this.waitForMembers(db, leader, fresh ? 180_000 : 120_000);
    progress.line(
      'postgres',
      `${leader.name} leads; ${db.nodes.length - 1} replica(s) streaming${db.failover.synchronous ? ', one synchronous' : ''}${fresh ? '' : ' (from the data on disk)'}`,
    );
  }

  /** Only for a stray left behind by a dead supervisor: Patroni is gone, so PostgreSQL is stopped directly. */
  async stop(proc: StackProcess): Promise<string> {
    if (proc.dataDir && existsSync(join(proc.dataDir, 'postmaster.pid'))) {
      const pgCtl = join(PG_BIN, 'pg_ctl');
      const args = ['-D', proc.dataDir, 'stop', '-m', 'fast', '-w', '-t', '30'];
      await run(...asUser(OS_USER, pgCtl, args), { check: false, timeoutMs: 40_000 });
    }
    return terminate(proc.pid);
  }

  async health(proc: StackProcess): Promise<Health> {
    if (proc.kind === 'etcd') {
      const status = await httpStatus(`http://${proc.host ?? '127.0.0.1'}:${proc.port}/health`);
      return { healthy: status === 200, detail: `GET /health → ${status ?? 'no answer'}` };
    }
    const url = `http://${proc.host ?? '127.0.0.1'}:${proc.restApiPort}/patroni`;
    try {
      const info = await httpJson<{ state?: string; role?: string }>(url, { timeoutMs: 3_000 });
      const healthy = info.state === 'running';
      return { healthy, detail: `patroni: ${info.role ?? '?'}, ${info.state ?? '?'}` };
    } catch (err) {
      // Patroni answers 503 with the same JSON while PostgreSQL is not running.
      return { healthy: false, detail: `patroni: ${(err as Error).message}` };
    }
  }

  /** The node Patroni's cluster view names as leader, once it runs. */
  private async waitForLeader(db: Database, timeoutMs: number): Promise<DbNode> {
    let leader: DbNode | undefined;
    await waitUntil(
      async () => {
        for (const node of db.nodes) {
          if ((await httpStatus(`http://${node.host}:${node.restApiPort}/primary`)) === 200) {
            leader = node;
            return true;
          }
        }
        return false;
      },
      { timeoutMs, intervalMs: 500, what: 'a PostgreSQL primary elected by Patroni' },
    );
    if (!leader) throw new StackError('no PostgreSQL primary');
    return leader;
  }

  /** Every member running, the replicas streaming, and (with synchronous mode) one of them synchronous. */
  private async waitForMembers(
    db: Database & { failover: Failover },
    leader: DbNode,
    timeoutMs: number,
  ): Promise<void> {
    let members: PatroniMember[] = [];
    await waitUntil(
      async () => {
        ({ members } = await httpJson<{ members: PatroniMember[] }>(
          `http://${leader.host}:${leader.restApiPort}/cluster`,
          { timeoutMs: 3_000 },
        ));
        const running = members.filter((m) => m.state === 'running' || m.state === 'streaming');
        const sync = members.some((m) => m.role === 'sync_standby');
        return running.length === db.nodes.length && (!db.failover.synchronous || db.nodes.length < 2 || sync);
      },
      {
        timeoutMs,
        intervalMs: 1_000,
        what: `${db.nodes.length} PostgreSQL members running under Patroni (last seen: ${JSON.stringify(members)})`,
      },
    );
  }

  /**
   * The application's role and database, made through the primary (Patroni makes only its own roles). The role
   * owns keyflow's database (and so its schema: it runs the migrations) and nothing else: no superuser, no
   * CREATEDB/CREATEROLE, no replication, no server-file or program roles. Its password is set on every start from
   * the secrets file (a SCRAM verifier, never the password), so an edited file takes effect at the next `up`.
   */
  private async ensureAppDatabase(db: Database, leader: DbNode): Promise<void> {
    const app = requireSecrets(this.layout).postgres.app;
    const role = (await this.psql(leader, [`SELECT 1 FROM pg_roles WHERE rolname = '${app.username}'`])).trim();
    const limits = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
    const password = `PASSWORD '${scramVerifier(app.password)}'`;
    await this.psql(leader, [`${role === '1' ? 'ALTER' : 'CREATE'} ROLE ${app.username} ${limits} ${password}`]);
    const database = (await this.psql(leader, [`SELECT 1 FROM pg_database WHERE datname = '${db.name}'`])).trim();
    if (database !== '1') await this.psql(leader, [`CREATE DATABASE ${db.name} OWNER ${app.username}`]);
    // Only the application role (and the superuser) may connect to keyflow's database.
    await this.psql(leader, [`REVOKE ALL ON DATABASE ${db.name} FROM PUBLIC`]);
    // The view `npm run bench` reads; creating an extension needs the superuser. Every role may read the view
    // (its own statements' text included), so the application role needs nothing more.
    await this.psql(leader, ['CREATE EXTENSION IF NOT EXISTS pg_stat_statements'], db.name);
  }

  /** psql as the superuser; the password goes in PGPASSWORD, never on the command line. */
  private psql(node: Pick<DbNode, 'host' | 'port'>, statements: string[], database = 'postgres'): Promise<string> {
    const su: Credential = requireSecrets(this.layout).postgres.superuser;
    const args = ['-h', node.host, '-p', String(node.port), '-U', su.username, '-d', database, '-X', '-A', '-t'];
    const env = { ...process.env, PGPASSWORD: su.password };
    return run('psql', [...args, '-v', 'ON_ERROR_STOP=1', ...statements.flatMap((s) => ['-c', s])], { env }).then(
      (r) => r.stdout,
    );
  }

  /** As root, Patroni runs as the postgres user, who must be able to reach the data directory. */
  private async checkAccess(dir: string): Promise<void> {
    if (!isRoot()) return;
    const res = await run('runuser', ['-u', OS_USER, '--', 'test', '-w', dir], { check: false });
    if (res.code !== 0) {
      throw new StackError(
        `the postgres user cannot reach ${dir}`,
        undefined,
        'every directory above the stack dir must be traversable (chmod o+x), or set an absolute stackDir such as /tmp/keyflow',
      );
    }
  }

  /** A directory the postgres user owns (as root), so Patroni and PostgreSQL can write there. */
  private ownedDir(dir: string, mode = 0o755): void {
    mkdirSync(dir, { recursive: true, mode });
    chmodSync(dir, mode);
    if (isRoot()) chownSync(dir, ...this.postgresIds());
  }

  private postgresIds(): [number, number] {
    // `id` is always there and keeps this free of a passwd parser.
    this.ids ??= [
      Number(execFileSync('id', ['-u', OS_USER]).toString()),
      Number(execFileSync('id', ['-g', OS_USER]).toString()),
    ];
    return this.ids;
  }
}

export function requireFailover(db: Database): Database & { failover: Failover } {
  if (db.kind !== 'postgres') {
    throw new StackError(`the local stack runs PostgreSQL; database.kind "${db.kind}" is for Docker Compose`);
  }
  if (!db.failover) {
    throw new StackError(
      'the local stack runs PostgreSQL under Patroni: the topology needs database.failover (see deploy/topologies/local.yaml)',
    );
  }
  return db as Database & { failover: Failover };
}
