import type { StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Health, ProcessControl, StartContext } from '../stack-context';
import { StackError } from '../stack.exception';
import type { StackLayout } from '../stack-layout.util';
import { asUser, isAlive, isRoot, readPidFile, run, terminate, waitForExit } from '../util/process.util';
import { waitUntil } from '../util/wait.util';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const OS_USER = 'postgres';
/** initdb's bootstrap superuser; trust auth on loopback, so any OS user may connect as it. */
const SUPERUSER = 'postgres';

type DbNode = Topology['database']['nodes'][number];

/** `pg-primary` → `postgres-primary`, `pg-replica-1` → `postgres-replica-1`. */
export function postgresProcessName(nodeName: string): string {
  return `postgres-${nodeName.replace(/^pg-/, '')}`;
}

/** Settings appended to every node's postgresql.conf (a replica inherits them through pg_basebackup). */
export function postgresSettings(node: Pick<DbNode, 'host' | 'port'>, socketDir: string): string {
  return [
    '',
    '# keyflow local stack',
    `port = ${node.port}`,
    `listen_addresses = '${node.host}'`,
    `unix_socket_directories = '${socketDir}'`,
    'max_connections = 200',
    'wal_level = replica',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'hot_standby = on',
    // Durability is a product guarantee: an applied write survives a crash of the machine.
    'fsync = on',
    'synchronous_commit = on',
    'shared_buffers = 128MB',
    // SERIALIZABLE keeps read locks (SIREAD) until commit. Past max_pred_locks_per_transaction / 2 of them on one
    // relation, PostgreSQL trades them for one lock on the whole table, and then every other shard's batch
    // "conflicts" with it (40001 storms under load). A batch holds up to ~250 keys; 1024 keeps them row-level.
    // (CockroachDB, the production database, tracks reads per key and has no such escalation.)
    'max_pred_locks_per_transaction = 1024',
    // A retried 40001 is routine; logging each failed statement (a batch has ~1,000 parameters) is not.
    'log_min_error_statement = fatal',
    'logging_collector = off',
    '',
  ].join('\n');
}

const PG_HBA = `# keyflow local stack: trust on loopback only
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
`;

/** PostgreSQL primary plus streaming replicas, each a private cluster under `<stackDir>/data/postgres`. */
export class PostgresService implements ProcessControl {
  private ids: [number, number] | undefined;
  private readonly pgBin = (tool: string): string => join(PG_BIN, tool);

  async start({ topology, layout, progress, record }: StartContext): Promise<void> {
    if (topology.database.kind !== 'postgres') {
      throw new StackError(
        `the local stack runs PostgreSQL; database.kind "${topology.database.kind}" is for Docker Compose`,
      );
    }
    const primary = topology.database.nodes.find((n) => n.role === 'primary');
    if (!primary) throw new StackError('database.nodes has no primary');
    const replicas = topology.database.nodes.filter((n) => n.role === 'replica');
    const base = join(layout.data, 'postgres');
    const socketDir = join(layout.run, 'postgres');
    this.ownedDir(base);
    this.ownedDir(socketDir);
    await this.checkAccess(base);

    const primaryDir = join(base, primary.name);
    await run(
      ...asUser(OS_USER, this.pgBin('initdb'), [
        '-D',
        primaryDir,
        '-U',
        SUPERUSER,
        '--auth=trust',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--no-sync',
        '--no-instructions',
      ]),
    );
    appendFileSync(join(primaryDir, 'postgresql.conf'), postgresSettings(primary, socketDir));
    writeFileSync(join(primaryDir, 'pg_hba.conf'), PG_HBA);
    await this.startNode(primary, primaryDir, layout, record);
    await this.psql(primary, [
      `CREATE ROLE ${topology.database.user} LOGIN`,
      `CREATE DATABASE ${topology.database.name} OWNER ${topology.database.user}`,
    ]);
    progress.line('postgres', `primary ready on ${primary.host}:${primary.port}`);

    await Promise.all(
      replicas.map(async (replica) => {
        const dir = join(base, replica.name);
        this.ownedDir(dir, 0o700);
        const slot = replica.name.replace(/[^a-z0-9]/g, '_');
        await run(
          ...asUser(OS_USER, this.pgBin('pg_basebackup'), [
            ...['-h', primary.host, '-p', String(primary.port), '-U', SUPERUSER, '-D', dir],
            ...['-R', '-X', 'stream', '-c', 'fast', '-C', '-S', slot, '--no-sync'],
          ]),
        );
        // The copied postgresql.conf carries the primary's port; a later line wins.
        appendFileSync(join(dir, 'postgresql.conf'), `\n# keyflow local stack: replica\nport = ${replica.port}\n`);
        await this.startNode(replica, dir, layout, record);
      }),
    );
    await waitUntil(async () => (await this.streamingReplicas(primary)) >= replicas.length, {
      timeoutMs: 30_000,
      what: `${replicas.length} replica(s) streaming from ${primary.name}`,
    });
    progress.line('postgres', `primary + ${replicas.length} streaming replica(s) up`);
  }

  async streamingReplicas(primary: Pick<DbNode, 'host' | 'port'>): Promise<number> {
    const out = await this.psql(primary, ["SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"]);
    return Number.parseInt(out.trim(), 10);
  }

  async stop(proc: StackProcess): Promise<string> {
    if (!isAlive(proc.pid)) return 'not running';
    if (proc.dataDir) {
      const res = await run(
        ...asUser(OS_USER, this.pgBin('pg_ctl'), ['-D', proc.dataDir, 'stop', '-m', 'fast', '-w', '-t', '30']),
        {
          check: false,
          timeoutMs: 40_000,
        },
      );
      if (res.code === 0 && (await waitForExit(proc.pid, 5_000))) return 'stopped';
    }
    return terminate(proc.pid);
  }

  async health(proc: StackProcess): Promise<Health> {
    const res = await run(
      this.pgBin('pg_isready'),
      ['-h', proc.host ?? '127.0.0.1', '-p', String(proc.port), '-t', '3'],
      {
        check: false,
      },
    );
    return {
      healthy: res.code === 0,
      detail: res.code === 0 ? 'pg_isready: accepting' : `pg_isready: exit ${res.code}`,
    };
  }

  private async startNode(
    node: DbNode,
    dataDir: string,
    layout: StackLayout,
    record: StartContext['record'],
  ): Promise<void> {
    const name = postgresProcessName(node.name);
    const log = join(layout.logs, `${name}.log`);
    this.ownedFile(log);
    try {
      await run(...asUser(OS_USER, this.pgBin('pg_ctl'), ['-D', dataDir, '-l', log, '-w', '-t', '60', 'start']), {
        timeoutMs: 70_000,
      });
    } finally {
      const pid = readPidFile(join(dataDir, 'postmaster.pid'));
      if (pid) record.addProcess({ name, pid, kind: 'postgres', host: node.host, port: node.port, dataDir });
    }
  }

  private psql(node: Pick<DbNode, 'host' | 'port'>, statements: string[]): Promise<string> {
    const args = ['-h', node.host, '-p', String(node.port), '-U', SUPERUSER, '-d', 'postgres', '-X', '-A', '-t'];
    return run('psql', [...args, '-v', 'ON_ERROR_STOP=1', ...statements.flatMap((s) => ['-c', s])]).then(
      (r) => r.stdout,
    );
  }

  /** A directory the postgres user owns (as root), so its binaries can write there. */
  private ownedDir(dir: string, mode = 0o755): void {
    mkdirSync(dir, { recursive: true, mode });
    chmodSync(dir, mode);
    if (isRoot()) chownSync(dir, ...this.postgresIds());
  }

  private ownedFile(file: string): void {
    closeSync(openSync(file, 'a'));
    if (isRoot()) chownSync(file, ...this.postgresIds());
  }

  private postgresIds(): [number, number] {
    // `id` is always there and keeps this free of a passwd parser.
    this.ids ??= [
      Number(execFileSync('id', ['-u', OS_USER]).toString()),
      Number(execFileSync('id', ['-g', OS_USER]).toString()),
    ];
    return this.ids;
  }

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
}
