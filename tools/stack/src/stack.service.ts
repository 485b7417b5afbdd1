import {
  isAlive,
  processGroup,
  stackProcessIds,
  type StackInfo,
  type StackProcess,
  type StackProcessKind,
} from '@keyflow/testing';
import { loadTopology, withoutEdge, type Topology } from '@keyflow/topology';
import { connect as amqpConnect } from 'amqplib';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { AppsService } from './apps.service';
import { CONSOLE_BUILD } from './build/app-build.service';
import { EdgeService } from './servers/edge.service';
import { HaproxyService } from './servers/haproxy.service';
import { NamedService } from './servers/named.service';
import { MonitoringService } from './servers/monitoring.service';
import { NginxService } from './servers/nginx.service';
import { PostgresService, requireFailover } from './servers/postgres.service';
import { RabbitmqService } from './servers/rabbitmq.service';
import { RedisService } from './servers/redis.service';
import { ensureSecrets, maskUrl, secretsFile } from './secrets.util';
import type { Health, ProcessControl, StackComponent, StartContext, SupervisedProcess } from './stack-context';
import { StackError } from './stack.exception';
import { buildStackInfo, readStackFile, StackRecord } from './stack-file.util';
import { stackLayout, type StackLayout } from './stack-layout.util';
import { unrecordedProcesses } from './stack-orphans.util';
import {
  expectedCommandLine,
  expectedEnvironment,
  formatStatusTable,
  formatUrls,
  resetCommand,
  stopCommand,
  topologyPorts,
  type StatusRow,
} from './stack-report.util';
import { programName } from './supervisor/supervisor-conf.util';
import { SupervisorService } from './supervisor/supervisor.service';
import { commandLine, environment, run, terminate } from './util/process.util';
import { formatElapsed, Progress } from './util/progress.util';
import { canConnect, waitUntil } from './util/wait.util';

/**
 * Stop order: what depends on a server goes before it; each group stops in parallel. PostgreSQL's replicas stop
 * before its primary (see `stopPostgres`), so no replica sees the primary go and tries to take over.
 */
const STOP_ORDER: string[][] = [
  ['edge', 'apps', 'nginx', 'named', 'monitoring'],
  ['haproxy'],
  ['redis', 'rabbitmq', 'postgres'],
  ['etcd', 'epmd'],
];

interface ProcessStatus extends StatusRow {
  proc: StackProcess;
}

interface Components {
  postgres: PostgresService;
  redis: RedisService;
  rabbitmq: RabbitmqService;
  haproxy: HaproxyService;
  apps: AppsService;
  nginx: NginxService;
  named: NamedService | undefined;
  monitoring: MonitoringService;
  edge: EdgeService;
}

/**
 * `up`, `down`, `reset`, `status` and `restart` of one local stack, described by a topology file. Every process
 * runs under the stack's own supervisord; the data under `<stackDir>/data` outlives every command but `reset`.
 */
export class StackService {
  private readonly progress = new Progress();

  constructor(
    private readonly repoRoot: string,
    private readonly print: (line: string) => void = (line) => console.log(line),
  ) {}

  /**
   * Brings the stack up from whatever state it is in, and never deletes data: a fresh start initialises the
   * servers; a stopped (or crashed) stack resumes from its data; a running one with dead or stopped processes
   * gets them started again. Components start in dependency order, each once the ones it needs are ready.
   */
  async up(topologyFile: string): Promise<number> {
    const { topology: declared, layout } = this.load(topologyFile);
    requireFailover(declared.database);
    const previous = readStackFile(layout.stackFile);
    if (previous && previous.topology !== layout.topologyFile) {
      throw new StackError(
        `${layout.stackDir} holds the stack of another topology (${previous.topology})`,
        undefined,
        'stop it with its own topology, or give this topology its own stackDir',
      );
    }
    const supervisor = new SupervisorService(layout);
    for (const dir of [layout.conf, layout.run, layout.logs, layout.data]) mkdirSync(dir, { recursive: true });
    // Before any config is written: every server's config and every app's environment carries them.
    const { secrets, created } = ensureSecrets(layout, declared);
    if (created)
      this.progress.line('secrets', `generated the servers' passwords in ${secretsFile(layout)} (mode 0600)`);

    const running = supervisor.pid();
    // The edge pair runs only where its network namespaces can be made; a running stack keeps what it started with.
    const edgeUp =
      declared.edge && (!running || previous?.loadBalancer !== undefined) && (await this.edgeNetwork(declared));
    const topology = edgeUp ? declared : withoutEdge(declared);
    const components = this.components(topology, layout);
    let mode: string;
    if (running) {
      if (previous?.state === 'up') {
        const statuses = await this.statuses(previous, layout, supervisor);
        if (statuses.every((s) => s.healthy)) {
          this.print(`keyflow stack "${previous.name}" is already running (since ${previous.startedAt}).`);
          formatUrls(previous).forEach((l) => this.print(l));
          return 0;
        }
      }
      mode = 'repairing';
      this.progress.line('stack', `supervisord (pid ${running}) runs: starting whatever is not running`);
    } else {
      await this.stopStrays(previous, layout);
      await this.checkPortsFree(topology);
      mode = existsSync(`${layout.data}/admin-token.json`) ? 'resuming from the data on disk' : 'fresh start';
      this.progress.line('stack', mode);
      await this.render(layout, { edge: topology.edge !== undefined });
      await Promise.all([
        components.nginx.validate(topology),
        components.haproxy.validate(),
        components.named?.validate(),
        components.edge.validate(topology),
      ]);
      this.progress.line(
        'config',
        `rendered and checked nginx-<gateway>.conf ×${topology.gateway.instances.length}, haproxy.cfg${components.named ? ', named.conf' : ''}${topology.edge ? ', haproxy-edge.cfg, keepalived-edge-<peer>.conf' : ''} in ${layout.conf}`,
      );
    }
    const supervised = this.prepare(components, topology, layout);
    if (!running) {
      supervisor.writeConfig(
        supervised.map((s) => s.spec),
        `keyflow-${topology.name}`,
      );
      const pid = await supervisor.start();
      this.progress.line('supervisor', `supervisord up (pid ${pid}), ${supervised.length} programs`);
    }

    const info = buildStackInfo(topology, layout, new Date(), supervisor.paths.config, secrets);
    const record = new StackRecord(
      {
        ...info,
        ...(previous?.token ? { token: previous.token } : {}),
        processes: supervised.map((s) => ({ ...s.proc, program: programName(s.spec), pid: 0 })),
      },
      layout.stackFile,
    );
    record.save();
    const ctx: StartContext = { topology, layout, progress: this.progress, record, supervisor };
    try {
      await this.allSettled([
        components.postgres.ensure(ctx),
        components.redis.ensure(ctx),
        components.rabbitmq.ensure(ctx),
      ]);
      await components.haproxy.ensure(ctx);
      await this.checkAmqpGateway(record.current);
      await components.apps.migrate(ctx);
      this.publishConsole(layout);
      await components.apps.ensureAdmin(ctx, { verify: false });
      await components.apps.ensure(ctx);
      await components.apps.ensureAdmin(ctx, { verify: true });
      await components.nginx.ensure(ctx);
      await components.named?.ensure(ctx);
      await components.edge.ensure(ctx);
      await components.monitoring.ensure(ctx);
    } catch (err) {
      await this.recordPids(record, supervisor);
      record.setState('failed');
      this.printError(err);
      this.print(
        `The stack is left running so you can inspect it: logs in ${layout.logs}, state in ${layout.stackFile}.`,
      );
      this.print(
        `Run \`npm start\` again once the cause is fixed (it starts what is missing), or ${stopCommand(layout.topologyFile, this.repoRoot)}.`,
      );
      return 1;
    }
    await this.recordPids(record, supervisor);
    record.setState('up');
    this.print('');
    this.print(
      `keyflow stack "${topology.name}" is up in ${(this.progress.elapsedMs() / 1000).toFixed(1)} s (${mode})`,
    );
    formatUrls(record.current).forEach((l) => this.print(l));
    this.print(
      `  Stop with: ${stopCommand(layout.topologyFile, this.repoRoot)} (keeps the data; ${resetCommand(layout.topologyFile, this.repoRoot)} discards it)`,
    );
    return 0;
  }

  /** Stops every process in dependency order, then supervisord; the data stays for the next `up`. */
  async down(topologyFile: string, { forReset = false }: { forReset?: boolean } = {}): Promise<number> {
    const { topology, layout } = this.load(topologyFile);
    const info = readStackFile(layout.stackFile);
    const supervisor = new SupervisorService(layout);
    const pid = supervisor.pid();
    if (pid) {
      for (const groups of STOP_ORDER) {
        await Promise.all(
          groups.map(async (group) => {
            const out =
              group === 'postgres'
                ? await this.stopPostgres(topology, supervisor)
                : await supervisor.stop([`${group}:*`]);
            for (const line of out.split('\n').filter(Boolean)) this.progress.line('down', line.trim());
          }),
        );
      }
      await supervisor.shutdown();
      this.progress.line('down', `supervisord (pid ${pid}) stopped`);
    } else if (!info) {
      this.print(`No stack recorded at ${layout.stackFile}; stopping only what its pid files name.`);
    }
    await this.stopStrays(info, layout);
    // The edge's namespaces and bridge go with the stack; `up` makes them again.
    for (const removed of await EdgeService.removeNetwork(topology)) this.progress.line('down', `removed ${removed}`);
    if (info) new StackRecord(info, layout.stackFile).setState('stopped');
    if (forReset) return 0;
    this.progress.line(
      'stack',
      `stopped; data kept in ${layout.data} (discard it with ${resetCommand(layout.topologyFile, this.repoRoot)})`,
    );
    return 0;
  }

  /** `down`, then delete the data (and configs and run files): the next `up` starts an empty store. */
  async reset(topologyFile: string, { yes }: { yes: boolean }): Promise<number> {
    const { layout } = this.load(topologyFile);
    if (!yes) {
      if (!process.stdin.isTTY) {
        this.print(`reset deletes every key, user and queued write in ${layout.data}; pass --yes to confirm.`);
        return 2;
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`Delete all of keyflow's data in ${layout.data}? Type "yes" to confirm: `);
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') {
        this.print('Nothing deleted.');
        return 1;
      }
    }
    await this.down(topologyFile, { forReset: true });
    for (const dir of [layout.data, layout.conf, layout.run]) rmSync(dir, { recursive: true, force: true });
    rmSync(layout.stackFile, { force: true });
    // The servers that knew these passwords are gone with their data: the next `up` makes new ones.
    rmSync(secretsFile(layout), { force: true });
    this.progress.line('reset', `deleted ${layout.data} (logs kept in ${layout.logs})`);
    return 0;
  }

  async status(topologyFile: string, { json }: { json: boolean }): Promise<number> {
    const { layout } = this.load(topologyFile);
    const info = readStackFile(layout.stackFile);
    if (!info) {
      if (json) this.print('[]');
      else this.print(`No stack: no ${layout.stackFile}.`);
      return 1;
    }
    const supervisor = new SupervisorService(layout);
    const statuses = await this.statuses(info, layout, supervisor);
    const healthy = info.state === 'up' && statuses.length > 0 && statuses.every((s) => s.healthy);
    if (json) {
      this.print(
        JSON.stringify(
          statuses.map(({ proc: _proc, ...row }) => row),
          null,
          2,
        ),
      );
      return healthy ? 0 : 1;
    }
    const sup = supervisor.pid();
    this.print(
      `keyflow stack "${info.name}" (${info.state}, started ${info.startedAt}), topology ${info.topology}, supervisord ${sup ? `pid ${sup}` : 'not running'}`,
    );
    formatStatusTable(statuses).forEach((l) => this.print(l));
    this.print('');
    formatUrls(info).forEach((l) => this.print(l));
    this.print(healthy ? 'All healthy.' : `Not healthy${info.state === 'up' ? '' : ` (state: ${info.state})`}.`);
    return healthy ? 0 : 1;
  }

  /** Restarts one process through the supervisor and waits for it to be healthy. */
  async restart(topologyFile: string, name: string): Promise<number> {
    const { layout } = this.load(topologyFile);
    const info = readStackFile(layout.stackFile);
    if (!info) throw new StackError(`no stack running: no ${layout.stackFile}`);
    const proc = info.processes.find((p) => p.name === name);
    if (!proc?.program)
      throw new StackError(`no process "${name}"; the stack has ${info.processes.map((p) => p.name).join(', ')}`);
    const supervisor = new SupervisorService(layout);
    if (!supervisor.pid()) throw new StackError('supervisord is not running: start the stack with `npm start`');
    const res = await supervisor.ctl(['restart', proc.program]);
    this.progress.line(name, res.stdout.trim().replace(/\n/g, '; '));
    const control = this.controlFor(proc.kind, layout);
    let last: Health = { healthy: false, detail: 'not checked' };
    await waitUntil(
      async () => {
        last = await control.health(proc);
        return last.healthy;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `${name} to become healthy` },
    );
    this.progress.line(name, `healthy (${last.detail})`);
    return 0;
  }

  printError(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.print(`${formatElapsed(this.progress.elapsedMs())} FAILED: ${e.message}`);
    if (e instanceof StackError) {
      if (e.detail) this.print(e.detail.replace(/^/gm, '  | '));
      if (e.hint) this.print(`  hint: ${e.hint}`);
    } else if (e.stack) {
      this.print(e.stack);
    }
  }

  private load(topologyFile: string): { topology: Topology; layout: StackLayout } {
    const file = resolve(topologyFile);
    const topology = loadTopology(file);
    const layout = stackLayout(this.repoRoot, file, topology.stackDir);
    // reset deletes directories under stackDir: never let that be the repository or one of its parents.
    if (!relative(layout.stackDir, this.repoRoot).startsWith('..')) {
      throw new StackError(
        `stackDir ${layout.stackDir} must be a directory of its own, not the repository or above it`,
      );
    }
    return { topology, layout };
  }

  private components(topology: Topology, layout: StackLayout): Components {
    return {
      postgres: new PostgresService(layout),
      redis: new RedisService(layout),
      rabbitmq: new RabbitmqService(layout),
      haproxy: new HaproxyService(layout),
      apps: new AppsService(layout),
      nginx: new NginxService(layout),
      named: topology.dns ? new NamedService(layout) : undefined,
      monitoring: new MonitoringService(),
      edge: new EdgeService(layout),
    };
  }

  private prepare(c: Components, topology: Topology, layout: StackLayout): SupervisedProcess[] {
    const parts: StackComponent[] = [c.postgres, c.redis, c.rabbitmq, c.haproxy, c.apps, c.nginx];
    if (c.named) parts.push(c.named);
    parts.push(c.monitoring, c.edge);
    return parts.flatMap((part) => part.prepare({ topology, layout }));
  }

  /**
   * Copies the built console (`dist/apps/console`) to where the gateways serve it from: the stack's run directory,
   * which is 0755 like nginx's temp dirs. nginx's workers run as `nobody` when the stack runs as root, and a
   * checkout under a private directory (a CI clone in a 0700 temp dir) is not theirs to read: they answered 403.
   */
  private publishConsole(layout: StackLayout): void {
    const built = join(this.repoRoot, CONSOLE_BUILD.outputPath);
    const target = consoleDir(layout);
    if (!existsSync(join(built, 'index.html'))) {
      this.progress.line('console', `not built (${built}): the gateways answer 404 at /`);
      return;
    }
    rmSync(target, { recursive: true, force: true });
    cpSync(built, target, { recursive: true });
    chmodTree(target);
    this.progress.line('console', `served from ${target}`);
  }

  /** Makes the edge pair's network, or says why the stack runs without the pair; true when it is there. */
  private async edgeNetwork(topology: Topology): Promise<boolean> {
    const why = await EdgeService.ensureNetwork(topology);
    if (why === undefined) return true;
    this.progress.line(
      'edge',
      `cannot run the HAProxy pair (${why}): running without it; clients reach the gateways directly (DNS round robin)`,
    );
    return false;
  }

  private async render(layout: StackLayout, { edge }: { edge: boolean }): Promise<void> {
    await run(
      process.execPath,
      [
        ...['-r', '@swc-node/register', 'apps/gateway-config/src/main.ts', 'render'],
        ...['--topology', layout.topologyFile, '--out', layout.conf, '--run-dir', layout.run, '--per-gateway'],
        ...['--console-root', consoleDir(layout)],
        ...(edge ? [] : ['--no-edge']),
      ],
      { cwd: this.repoRoot, timeoutMs: 60_000 },
    );
  }

  /** Runs the steps together and reports every failure, not just the first. */
  private async allSettled(steps: Promise<void>[]): Promise<void> {
    const results = await Promise.allSettled(steps);
    const failures = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason instanceof Error ? r.reason : new Error(String(r.reason))] : [],
    );
    failures.slice(1).forEach((f) => this.printError(f));
    if (failures[0]) throw failures[0];
  }

  /** Replicas first, the leader last: a replica never sees its primary go away while it still runs. */
  private async stopPostgres(topology: Topology, supervisor: SupervisorService): Promise<string> {
    const db = topology.database;
    const leader = await this.postgresLeader(topology);
    const programs = db.nodes.map((n) => ({ node: n, program: `postgres:postgres-${n.name.replace(/^pg-/, '')}` }));
    const replicas = programs.filter((p) => p.node.name !== leader).map((p) => p.program);
    const first = await supervisor.stop(replicas);
    const last = await supervisor.stop(programs.filter((p) => p.node.name === leader).map((p) => p.program));
    return [first, last].filter(Boolean).join('\n');
  }

  private async postgresLeader(topology: Topology): Promise<string | undefined> {
    for (const node of topology.database.nodes) {
      try {
        const res = await fetch(`http://${node.host}:${node.restApiPort}/primary`, {
          signal: AbortSignal.timeout(2_000),
        });
        await res.body?.cancel();
        if (res.status === 200) return node.name;
      } catch {
        // not answering
      }
    }
    return undefined;
  }

  /** The apps' broker login, through HAProxy, to their own vhost. */
  private async checkAmqpGateway(info: StackInfo): Promise<void> {
    await waitUntil(
      async () => {
        const conn = await amqpConnect(info.amqpGateway);
        await conn.close();
        return true;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 500,
        what: `the apps' AMQP login through HAProxy (${maskUrl(info.amqpGateway)})`,
      },
    );
    this.progress.line('haproxy', "the apps' AMQP login through HAProxy works");
  }

  private async checkPortsFree(topology: Topology): Promise<void> {
    const claims = topologyPorts(topology);
    const busy = (
      await Promise.all(claims.map(async (c) => ((await canConnect(c.host, c.port, 500)) ? [c] : [])))
    ).flat();
    if (busy.length) {
      throw new StackError(
        `ports the stack needs are already in use: ${busy.map((c) => `${c.host}:${c.port} (${c.what})`).join(', ')}`,
        undefined,
        'another stack or program holds them; `status` shows this stack, `ss -ltnp` shows who listens',
      );
    }
  }

  private controlFor(kind: StackProcessKind, layout: StackLayout): ProcessControl {
    switch (kind) {
      case 'api':
      case 'worker':
        return new AppsService(layout);
      case 'nginx':
        return new NginxService(layout);
      case 'haproxy':
        return new HaproxyService(layout);
      case 'named':
        return new NamedService(layout);
      case 'redis':
        return new RedisService(layout);
      case 'rabbitmq':
      case 'epmd':
        return new RabbitmqService(layout);
      case 'postgres':
      case 'etcd':
        return new PostgresService(layout);
      case 'monitoring':
        return new MonitoringService();
      case 'haproxy-edge':
      case 'keepalived':
        return new EdgeService(layout);
    }
  }

  /** Alive and still the program we started (pids get reused). */
  private isOurs(proc: StackProcess): boolean {
    if (!isAlive(proc.pid) || !commandLine(proc.pid).includes(expectedCommandLine(proc))) return false;
    const env = expectedEnvironment(proc);
    if (!env.length) return true;
    const actual = environment(proc.pid);
    return env.every((e) => actual.includes(e));
  }

  /**
   * Processes of this stack that no supervisord runs any more: supervisord was killed (its children live on),
   * or a stack from before supervision. They carry the stack's marker in their environment (or are named by its
   * pid files); each gets its own stop, then its process group is killed.
   */
  private async stopStrays(info: StackInfo | undefined, layout: StackLayout): Promise<void> {
    const known = [
      ...(info?.processes ?? []).filter((p) => p.pid && this.isOurs(p)),
      ...unrecordedProcesses(info, layout),
    ];
    const marked = stackProcessIds(layout.stackDir);
    if (!known.length && !marked.length) return;
    this.progress.line(
      'stack',
      `stopping ${new Set([...known.map((p) => p.pid), ...marked]).size} process(es) left from an earlier run`,
    );
    for (const kinds of [
      ['api', 'worker', 'nginx', 'named', 'monitoring'],
      ['haproxy'],
      ['redis', 'rabbitmq', 'postgres'],
      ['etcd', 'epmd'],
    ]) {
      await Promise.all(
        known
          .filter((p) => kinds.includes(p.kind))
          .map(async (proc) => {
            const outcome = await this.controlFor(proc.kind, layout)
              .stop(proc)
              .catch((err: Error) => `did not stop: ${err.message}`);
            this.progress.line('down', `${proc.name} (pid ${proc.pid}) ${outcome}`);
          }),
      );
    }
    // Whatever is left (Patroni, helpers, a supervisord that lost its pid file): TERM, then KILL, by group.
    const left = stackProcessIds(layout.stackDir);
    const groups = new Set(left.map((p) => processGroup(p)).filter((g): g is number => !!g && g > 1));
    groups.delete(processGroup(process.pid) ?? -1);
    await Promise.all(left.map((pid) => terminate(pid, 10_000).catch(() => 'survived')));
    for (const group of groups) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const still = stackProcessIds(layout.stackDir);
    if (still.length) throw new StackError(`still running after stopping: pids ${still.join(', ')}`);
  }

  /** stack.json's pids, from the supervisor (they change whenever it restarts something). */
  private async recordPids(record: StackRecord, supervisor: SupervisorService): Promise<void> {
    if (!supervisor.pid()) return;
    const status = await supervisor.status();
    for (const proc of record.current.processes) {
      const pid = status.find((s) => s.program === proc.program)?.pid ?? 0;
      if (pid !== proc.pid) record.addProcess({ ...proc, pid });
    }
  }

  private async statuses(
    info: StackInfo,
    layout: StackLayout,
    supervisor: SupervisorService,
  ): Promise<ProcessStatus[]> {
    const running = supervisor.pid() !== undefined;
    const status = running ? await supervisor.status() : [];
    const history = supervisor.history();
    const rows = await Promise.all(
      info.processes.map(async (recorded) => {
        const s = status.find((x) => x.program === recorded.program);
        const proc = { ...recorded, pid: s?.pid ?? 0 };
        const alive = proc.pid > 0 && isAlive(proc.pid);
        const health = alive
          ? await this.controlFor(proc.kind, layout)
              .health(proc)
              .catch((err: unknown) => ({ healthy: false, detail: (err as Error).message }))
          : {
              healthy: false,
              detail: running ? `${s?.state ?? 'unknown'}: ${s?.description ?? ''}`.trim() : 'supervisord not running',
            };
        const h = history.get(proc.name);
        return {
          proc,
          name: proc.name,
          pid: proc.pid,
          state: s?.state ?? 'STOPPED',
          alive,
          ...health,
          restarts: h?.restarts ?? 0,
          ...(h?.lastExit ? { lastExit: h.lastExit } : {}),
        };
      }),
    );
    // Keep stack.json's pids current for scripts that read them.
    if (running && info.state !== 'stopped') {
      const record = new StackRecord(info, layout.stackFile);
      for (const row of rows)
        if (row.pid !== (info.processes.find((p) => p.name === row.name)?.pid ?? 0)) record.addProcess(row.proc);
    }
    return rows;
  }
}

/** Where the gateways serve the web console from (see `publishConsole`). */
export function consoleDir(layout: Pick<StackLayout, 'run'>): string {
  return join(layout.run, 'console');
}

/** World-readable files and traversable directories under `dir`: nginx's workers read them as `nobody`. */
function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) chmodTree(path);
    else chmodSync(path, 0o644);
  }
}
