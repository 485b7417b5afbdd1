import type { StackInfo, StackProcess, StackProcessKind } from '@keyflow/testing';
import { loadTopology, type Topology } from '@keyflow/topology';
import { connect as amqpConnect } from 'amqplib';
import { mkdirSync, rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { AppsService } from './apps.service';
import { HaproxyService } from './servers/haproxy.service';
import { NamedService } from './servers/named.service';
import { NginxService } from './servers/nginx.service';
import { PostgresService } from './servers/postgres.service';
import { RabbitmqService } from './servers/rabbitmq.service';
import { RedisService } from './servers/redis.service';
import type { Health, ProcessControl, StartContext } from './stack-context';
import { StackError } from './stack.exception';
import { buildStackInfo, readLaunchSpec, readStackFile, StackRecord } from './stack-file.util';
import { stackLayout, type StackLayout } from './stack-layout.util';
import { unrecordedProcesses } from './stack-orphans.util';
import {
  expectedCommandLine,
  expectedEnvironment,
  formatStatusTable,
  formatUrls,
  stopCommand,
  topologyPorts,
  type StatusRow,
} from './stack-report.util';
import { commandLine, environment, isAlive, run, spawnDetached } from './util/process.util';
import { formatElapsed, Progress } from './util/progress.util';
import { canConnect, waitUntil } from './util/wait.util';

/** Stop order: what depends on a server goes before it; each group stops in parallel. */
const STOP_ORDER: StackProcessKind[][] = [
  ['api', 'worker', 'nginx'],
  ['haproxy', 'named'],
  ['redis', 'rabbitmq', 'postgres'],
  ['epmd'],
];

interface ProcessStatus extends StatusRow {
  proc: StackProcess;
}

/** `up`, `down`, `status` and `restart` of one local stack, described by a topology file. */
export class StackService {
  private readonly progress = new Progress();

  constructor(
    private readonly repoRoot: string,
    private readonly print: (line: string) => void = (line) => console.log(line),
  ) {}

  async up(topologyFile: string): Promise<number> {
    const { topology, layout } = this.load(topologyFile);
    const existing = readStackFile(layout.stackFile);
    if (existing?.state === 'up' && existing.topology === layout.topologyFile) {
      const statuses = await this.statuses(existing, layout);
      if (statuses.every((s) => s.healthy)) {
        this.print(`keyflow stack "${existing.name}" is already running (since ${existing.startedAt}).`);
        formatUrls(existing).forEach((l) => this.print(l));
        return 0;
      }
    }
    if (existing || unrecordedProcesses(existing, layout).length) {
      const what = existing ? `${existing.state}, started ${existing.startedAt}` : 'no stack.json, live pid files';
      this.progress.line('stack', `cleaning up a stale stack (${what})`);
      await this.stopAll(existing, layout);
    }
    await this.checkPortsFree(topology);

    for (const dir of [layout.conf, layout.run, layout.logs, layout.data]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    await this.render(layout);
    const nginx = new NginxService(layout);
    const haproxy = new HaproxyService(layout);
    const named = topology.dns ? new NamedService(layout) : undefined;
    await Promise.all([nginx.validate(), haproxy.validate(), named?.validate()]);
    this.progress.line(
      'config',
      `rendered and checked nginx.conf, haproxy.cfg${named ? ', named.conf' : ''} in ${layout.conf}`,
    );

    const record = new StackRecord(buildStackInfo(topology, layout, new Date()), layout.stackFile);
    record.save();
    const ctx: StartContext = { topology, layout, progress: this.progress, record };
    try {
      await this.startServers(ctx);
      await haproxy.start(ctx);
      await this.checkAmqpGateway(record.current);
      const apps = new AppsService(layout);
      await apps.migrate(ctx);
      await apps.createAdmin(ctx);
      await apps.start(ctx);
      await nginx.start(ctx);
      await named?.start(ctx);
    } catch (err) {
      record.setState('failed');
      this.printError(err);
      this.print(
        `The stack is left running so you can inspect it: logs in ${layout.logs}, state in ${layout.stackFile}.`,
      );
      this.print(`Stop it with: ${stopCommand(layout.topologyFile, this.repoRoot)}`);
      return 1;
    }
    record.setState('up');
    this.print('');
    this.print(`keyflow stack "${topology.name}" is up in ${(this.progress.elapsedMs() / 1000).toFixed(1)} s`);
    formatUrls(record.current).forEach((l) => this.print(l));
    this.print(`  Stop with: ${stopCommand(layout.topologyFile, this.repoRoot)} (discards the stack's data)`);
    return 0;
  }

  async down(topologyFile: string): Promise<number> {
    const { layout } = this.load(topologyFile);
    const info = readStackFile(layout.stackFile);
    if (!info) this.print(`No stack recorded at ${layout.stackFile}; stopping only what its pid files name.`);
    await this.stopAll(info, layout);
    rmSync(layout.data, { recursive: true, force: true });
    this.progress.line('stack', `stopped; data in ${layout.data} discarded (logs kept in ${layout.logs})`);
    return 0;
  }

  async status(topologyFile: string): Promise<number> {
    const { layout } = this.load(topologyFile);
    const info = readStackFile(layout.stackFile);
    if (!info) {
      this.print(`No stack running: no ${layout.stackFile}.`);
      return 1;
    }
    const statuses = await this.statuses(info, layout);
    this.print(`keyflow stack "${info.name}" (${info.state}, started ${info.startedAt}), topology ${info.topology}`);
    formatStatusTable(statuses).forEach((l) => this.print(l));
    this.print('');
    formatUrls(info).forEach((l) => this.print(l));
    const healthy = info.state === 'up' && statuses.every((s) => s.healthy);
    this.print(healthy ? 'All healthy.' : `Not healthy${info.state === 'up' ? '' : ` (state: ${info.state})`}.`);
    return healthy ? 0 : 1;
  }

  async restart(topologyFile: string, name: string): Promise<number> {
    const { layout } = this.load(topologyFile);
    const info = readStackFile(layout.stackFile);
    if (!info) throw new StackError(`no stack running: no ${layout.stackFile}`);
    const proc = info.processes.find((p) => p.name === name);
    if (!proc)
      throw new StackError(`no process "${name}"; the stack has ${info.processes.map((p) => p.name).join(', ')}`);
    const spec = readLaunchSpec(layout, name);
    const control = this.controlFor(proc.kind, layout);
    if (this.isOurs(proc)) {
      this.progress.line(name, `stopping pid ${proc.pid}: ${await control.stop(proc)}`);
    }
    const pid = spawnDetached(spec.command, spec.args, spec);
    const record = new StackRecord(info, layout.stackFile);
    const restarted = { ...proc, pid };
    record.addProcess(restarted);
    this.progress.line(name, `launched pid ${pid}, waiting for health`);
    let last: Health = { healthy: false, detail: 'not checked' };
    await waitUntil(
      async () => {
        if (!isAlive(pid)) throw new StackError(`${name} exited; see ${spec.logFile}`);
        last = await control.health(restarted);
        return last.healthy;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: `${name} to become healthy` },
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
    // up and down delete directories under stackDir: never let that be the repository or one of its parents.
    if (!relative(layout.stackDir, this.repoRoot).startsWith('..')) {
      throw new StackError(
        `stackDir ${layout.stackDir} must be a directory of its own, not the repository or above it`,
      );
    }
    return { topology, layout };
  }

  private async render(layout: StackLayout): Promise<void> {
    await run(
      process.execPath,
      [
        ...['-r', '@swc-node/register', 'apps/gateway-config/src/main.ts', 'render'],
        ...['--topology', layout.topologyFile, '--out', layout.conf, '--run-dir', layout.run],
      ],
      { cwd: this.repoRoot, timeoutMs: 60_000 },
    );
  }

  /** PostgreSQL, Redis and RabbitMQ start in parallel; every failure is reported, not just the first. */
  private async startServers(ctx: StartContext): Promise<void> {
    const started = Date.now();
    const results = await Promise.allSettled([
      new PostgresService().start(ctx),
      new RedisService().start(ctx),
      new RabbitmqService(ctx.layout).start(ctx),
    ]);
    const failures = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason instanceof Error ? r.reason : new Error(String(r.reason))] : [],
    );
    failures.slice(1).forEach((f) => this.printError(f));
    if (failures[0]) throw failures[0];
    this.progress.line(
      'servers',
      `PostgreSQL, Redis and RabbitMQ up in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  /** guest may only log in from loopback; HAProxy connects from 127.0.0.1, so it works through HAProxy too. */
  private async checkAmqpGateway(info: StackInfo): Promise<void> {
    try {
      const conn = await amqpConnect(info.amqpGateway);
      await conn.close();
    } catch (err) {
      throw new StackError(
        `AMQP login as guest through HAProxy (${info.amqpGateway}) failed: ${(err as Error).message}`,
      );
    }
    this.progress.line('haproxy', 'AMQP login as guest through HAProxy works');
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
        return new RedisService();
      case 'rabbitmq':
      case 'epmd':
        return new RabbitmqService(layout);
      case 'postgres':
        return new PostgresService();
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

  private async stopAll(info: StackInfo | undefined, layout: StackLayout): Promise<void> {
    const left: StackProcess[] = [];
    const processes = [...(info?.processes ?? []), ...unrecordedProcesses(info, layout)];
    for (const kinds of STOP_ORDER) {
      const group = processes.filter((p) => kinds.includes(p.kind));
      await Promise.all(
        group.map(async (proc) => {
          if (!isAlive(proc.pid)) {
            this.progress.line('down', `${proc.name} (pid ${proc.pid}) was not running`);
            return;
          }
          if (!this.isOurs(proc)) {
            this.progress.line('down', `${proc.name}: pid ${proc.pid} now belongs to another program; left alone`);
            return;
          }
          try {
            const outcome = await this.controlFor(proc.kind, layout).stop(proc);
            this.progress.line('down', `${proc.name} (pid ${proc.pid}) ${outcome}`);
          } catch (err) {
            this.progress.line('down', `${proc.name} (pid ${proc.pid}) did not stop: ${(err as Error).message}`);
          }
          if (this.isOurs(proc)) left.push(proc);
        }),
      );
    }
    if (left.length) {
      throw new StackError(`still running after down: ${left.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`);
    }
    rmSync(layout.stackFile, { force: true });
  }

  private async statuses(info: StackInfo, layout: StackLayout): Promise<ProcessStatus[]> {
    return Promise.all(
      info.processes.map(async (proc) => {
        const alive = this.isOurs(proc);
        const health = alive
          ? await this.controlFor(proc.kind, layout)
              .health(proc)
              .catch((err: unknown) => ({ healthy: false, detail: (err as Error).message }))
          : { healthy: false, detail: isAlive(proc.pid) ? 'pid belongs to another program' : 'not running' };
        return { proc, name: proc.name, pid: proc.pid, alive, ...health };
      }),
    );
  }
}
