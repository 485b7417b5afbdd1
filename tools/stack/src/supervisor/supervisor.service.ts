import { isAlive, STACK_DIR_ENV } from '@keyflow/testing';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { StackError } from '../stack.exception';
import { inheritedEnv } from '../stack-file.util';
import type { StackLayout } from '../stack-layout.util';
import { tail } from '../util/log.util';
import { commandLine, readPidFile, run, waitForExit } from '../util/process.util';
import { waitUntil } from '../util/wait.util';
import {
  parseSupervisorLog,
  parseSupervisorStatus,
  type ProgramHistory,
  type ProgramSpec,
  type ProgramStatus,
  renderSupervisorConf,
  supervisorPaths,
} from './supervisor-conf.util';

/**
 * The stack's own supervisord (Debian's `supervisor`): it runs every server and app of one stack, restarts what
 * dies (with a growing delay, giving up only on a crash loop), and rotates their logs. The stack talks to it with
 * `supervisorctl` over a unix socket only its owner can open. Why supervisord: tools/stack/README.md.
 */
export class SupervisorService {
  readonly paths: ReturnType<typeof supervisorPaths>;

  constructor(private readonly layout: StackLayout) {
    this.paths = supervisorPaths(layout);
  }

  /** supervisord's pid when it runs for this stack (its pid file names a live supervisord), else undefined. */
  pid(): number | undefined {
    const pid = readPidFile(this.paths.pidFile);
    return pid && isAlive(pid) && commandLine(pid).includes('supervisord') ? pid : undefined;
  }

  writeConfig(programs: readonly ProgramSpec[], identifier: string): void {
    writeFileSync(this.paths.config, renderSupervisorConf(programs, this.layout, identifier), { mode: 0o600 });
  }

  /** Starts supervisord (it daemonises once its socket listens); no program starts until asked. */
  async start(): Promise<number> {
    const env = { ...inheritedEnv(), [STACK_DIR_ENV]: this.layout.stackDir };
    await run('supervisord', ['-c', this.paths.config], { env, cwd: this.layout.stackDir, timeoutMs: 30_000 });
    let pid: number | undefined;
    await waitUntil(
      async () => {
        pid = this.pid();
        return pid !== undefined && (await this.ctl(['pid'])).code === 0;
      },
      { timeoutMs: 20_000, what: `supervisord to answer on ${this.paths.socket}` },
    ).catch((err: Error) => {
      throw new StackError(err.message, tail(this.paths.logFile));
    });
    return pid ?? 0;
  }

  ctl(args: string[], timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return run('supervisorctl', ['-c', this.paths.config, ...args], { check: false, timeoutMs });
  }

  /**
   * Starts every program of `group` at once (or one, `group:name`) and waits until each has stayed up for its
   * start time. A program that already runs is left alone, so this is also how `up` repairs a stack: it starts
   * only what is missing.
   */
  async startGroup(group: string): Promise<void> {
    const res = await this.ctl(['start', group.includes(':') ? group : `${group}:*`]);
    const failed = res.stdout
      .split('\n')
      .filter((l) => /ERROR/.test(l) && !/already started/.test(l))
      .map((l) => l.trim());
    if (failed.length) {
      const name = /^(?:[^:]+:)?([^:\s]+):/.exec(failed[0] ?? '')?.[1] ?? group;
      throw new StackError(
        `the supervisor could not start ${group}: ${failed.join('; ')}`,
        `last lines of ${this.layout.logs}/${name}.log:\n${tail(`${this.layout.logs}/${name}.log`)}`,
      );
    }
  }

  /** Stops the given programs (`group:*` or `group:name`) together, each with its own stop signal and grace. */
  async stop(programs: string[]): Promise<string> {
    if (!programs.length) return '';
    const results = await Promise.all(programs.map((p) => this.ctl(['stop', p])));
    return results.map((r) => r.stdout.trim()).join('\n');
  }

  /**
   * Every program's state and pid. `status` prints a pid only for RUNNING; `pid all` prints one line per program
   * in the same order, so a program still STARTING (up for less than its start time) has its pid too.
   */
  async status(): Promise<ProgramStatus[]> {
    const [status, pids] = await Promise.all([this.ctl(['status']), this.ctl(['pid', 'all'])]);
    const rows = parseSupervisorStatus(status.stdout);
    const all = pids.stdout.split('\n').filter((l) => l.trim() !== '');
    if (all.length !== rows.length) return rows;
    return rows.map((row, i) => {
      const pid = Number.parseInt(all[i] ?? '', 10);
      const live = row.state === 'RUNNING' || row.state === 'STARTING' || row.state === 'STOPPING';
      return live && Number.isInteger(pid) && pid > 0 ? { ...row, pid } : row;
    });
  }

  /** Restarts and last exit cause per program, from supervisord's log since it started. */
  history(): Map<string, ProgramHistory> {
    if (!existsSync(this.paths.logFile)) return new Map();
    return parseSupervisorLog(readFileSync(this.paths.logFile, 'utf8'));
  }

  /** Stops whatever still runs (in reverse priority order) and supervisord itself. */
  async shutdown(): Promise<void> {
    const pid = this.pid();
    if (!pid) return;
    await this.ctl(['shutdown'], 120_000);
    if (!(await waitForExit(pid, 120_000))) throw new StackError(`supervisord (pid ${pid}) did not exit`);
  }
}
