import type { StackLayout } from '../stack-layout.util';
import { join } from 'node:path';

/**
 * One program the stack's supervisord runs. Every program runs in the foreground (supervisord cannot follow a
 * daemon that forks away), in its own process group, with stdout and stderr in `logs/<name>.log` (rotated).
 */
export interface ProgramSpec {
  /** The process name everywhere else (stack.json, status): `api-1`, `redis-7001`, `postgres-pg-1`. */
  name: string;
  /** The supervisord group it belongs to; the stack starts and stops a group at a time. */
  group: string;
  command: string;
  args: readonly string[];
  /** Added to supervisord's own (deliberately small) environment. */
  env?: Record<string, string>;
  cwd: string;
  /** Run as this user (PostgreSQL refuses to run as root). */
  user?: string;
  /** supervisord starts lower priorities first and stops them last (`shutdown`). */
  priority: number;
  /** Seconds a process must stay up to count as started; a quicker exit is a failed start, retried with backoff. */
  startSecs: number;
  /** Failed starts in a row before supervisord gives up (FATAL); the delay grows by a second each time. */
  startRetries: number;
  stopSignal?: 'TERM' | 'INT' | 'QUIT';
  /** Seconds between the stop signal and SIGKILL. */
  stopWaitSecs: number;
}

/** `group:name` when the group holds the program; supervisorctl's name for it. */
export function programName(spec: Pick<ProgramSpec, 'name' | 'group'>): string {
  return `${spec.group}:${spec.name}`;
}

export interface SupervisorPaths {
  config: string;
  socket: string;
  pidFile: string;
  logFile: string;
}

export function supervisorPaths(layout: Pick<StackLayout, 'conf' | 'run' | 'logs'>): SupervisorPaths {
  return {
    config: join(layout.conf, 'supervisord.conf'),
    socket: join(layout.run, 'supervisor.sock'),
    pidFile: join(layout.run, 'supervisord.pid'),
    logFile: join(layout.logs, 'supervisord.log'),
  };
}

/**
 * supervisord expands `%(name)s` in every value and splits `command` like a POSIX shell: each argument is
 * double-quoted with `\` and `"` escaped, and `%` doubled.
 */
export function quoteArg(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%')}"`;
}

function environmentLine(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`environment variable name "${k}" cannot be passed`);
      return `${k}=${quoteArg(v)}`;
    })
    .join(',');
}

/** The whole supervisord.conf: the daemon (a unix socket only, mode 0700), then one section per program and group. */
export function renderSupervisorConf(
  programs: readonly ProgramSpec[],
  layout: Pick<StackLayout, 'conf' | 'run' | 'logs' | 'stackDir'>,
  identifier: string,
): string {
  const paths = supervisorPaths(layout);
  const lines = [
    '; Rendered by tools/stack from the topology; every `npm start` of a stopped stack writes it again.',
    '[unix_http_server]',
    `file=${paths.socket}`,
    'chmod=0700',
    '',
    '[supervisord]',
    `identifier=${identifier}`,
    `logfile=${paths.logFile}`,
    'logfile_maxbytes=10MB',
    'logfile_backups=3',
    'loglevel=info',
    `pidfile=${paths.pidFile}`,
    `childlogdir=${layout.logs}`,
    `directory=${layout.stackDir}`,
    // RabbitMQ and PostgreSQL want many descriptors; supervisord raises its own limit and the children inherit it.
    'minfds=16384',
    'minprocs=4096',
    '',
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '',
    '[supervisorctl]',
    `serverurl=unix://${paths.socket}`,
    '',
  ];
  for (const p of programs) {
    lines.push(
      `[program:${p.name}]`,
      `command=${[p.command, ...p.args].map(quoteArg).join(' ')}`,
      `directory=${p.cwd}`,
      ...(p.env && Object.keys(p.env).length ? [`environment=${environmentLine(p.env)}`] : []),
      ...(p.user ? [`user=${p.user}`] : []),
      `priority=${p.priority}`,
      // The stack starts programs in dependency order itself (`up`), and supervisord restarts them after that.
      'autostart=false',
      'autorestart=true',
      `startsecs=${p.startSecs}`,
      `startretries=${p.startRetries}`,
      `stopsignal=${p.stopSignal ?? 'TERM'}`,
      `stopwaitsecs=${p.stopWaitSecs}`,
      // Signals go to the whole process group: nginx's workers, PostgreSQL under Patroni, the Erlang VM's helpers.
      'stopasgroup=true',
      'killasgroup=true',
      'redirect_stderr=true',
      `stdout_logfile=${join(layout.logs, `${p.name}.log`)}`,
      'stdout_logfile_maxbytes=20MB',
      'stdout_logfile_backups=3',
      '',
    );
  }
  const groups = new Map<string, string[]>();
  for (const p of programs) groups.set(p.group, [...(groups.get(p.group) ?? []), p.name]);
  for (const [group, members] of groups) {
    const priority = Math.min(...programs.filter((p) => p.group === group).map((p) => p.priority));
    lines.push(`[group:${group}]`, `programs=${members.join(',')}`, `priority=${priority}`, '');
  }
  return lines.join('\n');
}

export type ProgramState = 'STOPPED' | 'STARTING' | 'RUNNING' | 'BACKOFF' | 'STOPPING' | 'EXITED' | 'FATAL' | 'UNKNOWN';

export interface ProgramStatus {
  /** supervisorctl's name: `apps:api-1`. */
  program: string;
  /** The part after the group: `api-1`. */
  name: string;
  state: ProgramState;
  pid: number;
  /** What supervisorctl says after the state: `pid 123, uptime 0:01:02`, `Exited too quickly …`. */
  description: string;
}

/** Parses `supervisorctl status` lines: `apps:api-1   RUNNING   pid 1234, uptime 0:00:05`. */
export function parseSupervisorStatus(text: string): ProgramStatus[] {
  const rows: ProgramStatus[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL|UNKNOWN)\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, program = '', state = 'UNKNOWN', description = ''] = m;
    const pid = /\bpid (\d+)/.exec(description);
    // A group whose one program has its name is shown without the group (`haproxy` for `haproxy:haproxy`).
    rows.push({
      program: program.includes(':') ? program : `${program}:${program}`,
      name: program.includes(':') ? program.slice(program.indexOf(':') + 1) : program,
      state: state as ProgramState,
      pid: state === 'RUNNING' && pid ? Number(pid[1]) : 0,
      description: description.trim(),
    });
  }
  return rows;
}

export interface ProgramHistory {
  /** Exits the supervisor did not ask for (each one answered with a restart), since supervisord started. */
  restarts: number;
  /** The last exit, stop or give-up supervisord logged for it: `terminated by SIGKILL; not expected`. */
  lastExit?: string;
}

/**
 * What supervisord's own log says about each program since supervisord last started:
 * `exited: api-1 (terminated by SIGKILL; not expected)`, `stopped: api-1 (exit status 0)`,
 * `gave up: api-1 entered FATAL state, too many start retries too quickly`.
 */
export function parseSupervisorLog(text: string): Map<string, ProgramHistory> {
  const history = new Map<string, ProgramHistory>();
  const lines = text.split('\n');
  let from = 0;
  lines.forEach((line, i) => {
    if (/ supervisord started with pid \d+/.test(line)) from = i;
  });
  for (const line of lines.slice(from)) {
    // supervisord logs an unexpected exit or a signal stop at WARN, an expected one at INFO.
    const m = /\b(?:INFO|WARN|CRIT) (exited|stopped|gave up): (\S+) (.*)$/.exec(line);
    if (!m) continue;
    const [, verb = '', name = '', rest = ''] = m;
    const entry = history.get(name) ?? { restarts: 0 };
    if (verb === 'exited') {
      entry.restarts += 1;
      entry.lastExit = rest.replace(/^\(|\)$/g, '');
    } else if (verb === 'stopped') {
      entry.lastExit = `stopped ${rest.replace(/^\(|\)$/g, '')}`;
    } else {
      entry.lastExit = `gave up: ${rest}`;
    }
    history.set(name, entry);
  }
  return history;
}
