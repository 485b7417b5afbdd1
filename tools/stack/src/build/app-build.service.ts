import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StackError } from '../stack.exception';
import { tail } from '../util/log.util';
import type { Progress } from '../util/progress.util';

/** An Nx project the stack runs, and where its `build` target writes (`@nx/js:tsc` with `rootDir: "."`, or Vite). */
export interface BuiltProject {
  project: string;
  outputPath: string;
}

export const API_BUILD: BuiltProject = { project: 'api', outputPath: 'dist/apps/api' };
export const WORKER_BUILD: BuiltProject = { project: 'worker', outputPath: 'dist/apps/worker' };
/** The web console (Vite): static files the gateways serve at `/` (the topology's `gateway.consoleRoot`). */
export const CONSOLE_BUILD: BuiltProject = { project: 'console', outputPath: 'dist/apps/console' };
/** Every project whose output the stack runs or serves. */
export const STACK_BUILDS: readonly BuiltProject[] = [API_BUILD, WORKER_BUILD, CONSOLE_BUILD];

/** A compile of a cold workspace takes ~30 s on two cores; this only stops a hung one. */
export const BUILD_TIMEOUT_MS = 10 * 60_000;

/**
 * Where the compiled form of a workspace source file lands: with `rootDir: "."` tsc keeps the repository layout
 * under `outputPath` (`apps/api/src/main.ts` → `dist/apps/api/apps/api/src/main.js`), and the libs the app imports
 * beside it (`…/libs/db/src/`, with the `.sql` migrations copied as assets), so `__dirname` lookups still work.
 */
export function compiledPath(build: BuiltProject, source: string): string {
  if (!source.endsWith('.ts')) throw new Error(`not a TypeScript source: ${source}`);
  return join(build.outputPath, `${source.slice(0, -'.ts'.length)}.js`);
}

/**
 * The build command: Nx's own CLI (no npx resolution), without its daemon (it would outlive `npm start`), one task
 * at a time (the servers start on the same two cores meanwhile), under an exclusive lock so that two stacks of
 * one checkout (`npm start`, `npm test`) never write the same `dist/` at once. Nx's cache makes an unchanged
 * build a few seconds and restores a deleted `dist/`.
 */
export function buildCommand(
  repoRoot: string,
  builds: readonly BuiltProject[],
  nodePath: string = process.execPath,
): { command: string; args: string[] } {
  return {
    command: 'flock',
    args: [
      join(repoRoot, 'dist', '.build.lock'),
      nodePath,
      join(repoRoot, 'node_modules/nx/bin/nx.js'),
      'run-many',
      '--targets=build',
      `--projects=${builds.map((b) => b.project).join(',')}`,
      '--outputStyle=static',
      '--parallel=1',
    ],
  };
}

export function buildEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
}

export interface BuildResult {
  durationMs: number;
  /** True when Nx restored every project from its cache (nothing was compiled). */
  cached: boolean;
}

/**
 * Compiles the apps the stack runs, so that what the supervisor starts is the current source as JavaScript and no
 * TypeScript compiler is loaded at run time. `start` begins the build in the background (the stack calls it while
 * the servers start); `wait` reports it and throws, with the compiler's output, if it failed: the apps are then
 * not started, rather than started from a stale `dist/`.
 */
export class AppBuildService {
  private pending?: Promise<BuildResult>;
  private reported?: Promise<BuildResult>;

  constructor(
    private readonly repoRoot: string,
    /** The compiler's output goes here; its tail is the error detail. */
    private readonly logFile: string,
    private readonly builds: readonly BuiltProject[] = STACK_BUILDS,
    private readonly command = buildCommand(repoRoot, builds),
  ) {}

  get projects(): string {
    return this.builds.map((b) => b.project).join(', ');
  }

  /** Starts the build unless it has started already. A failure surfaces in `wait`, never as an unhandled rejection. */
  start(): void {
    if (this.pending) return;
    this.pending = this.compile();
    this.pending.catch(() => undefined);
  }

  /** Waits for the build (starting it if need be) and reports it once, however many steps wait for it. */
  wait(progress: Progress): Promise<BuildResult> {
    this.reported ??= this.report(progress);
    return this.reported;
  }

  private async report(progress: Progress): Promise<BuildResult> {
    const since = this.pending ? ', started with the servers' : '';
    progress.line('build', `building apps… (${this.projects}${since}; compiler output in ${this.logFile})`);
    this.start();
    const result = await (this.pending as Promise<BuildResult>);
    const seconds = (result.durationMs / 1000).toFixed(1);
    progress.line(
      'build',
      result.cached
        ? `${this.projects} up to date (Nx cache, ${seconds} s)`
        : `${this.projects} compiled in ${seconds} s`,
    );
    return result;
  }

  private async compile(): Promise<BuildResult> {
    mkdirSync(join(this.repoRoot, 'dist'), { recursive: true });
    mkdirSync(dirname(this.logFile), { recursive: true });
    const startedAt = Date.now();
    const out = openSync(this.logFile, 'w');
    return await new Promise<number>((resolve, reject) => {
      // Output to a file, not a pipe: if `up` gives up early and exits, the build still finishes cleanly. Its own
      // process group, so that a timeout kills Nx and tsc under flock too.
      const child = spawn(this.command.command, this.command.args, {
        cwd: this.repoRoot,
        env: buildEnv(),
        stdio: ['ignore', out, out],
        detached: true,
      });
      const timer = setTimeout(() => {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      }, BUILD_TIMEOUT_MS);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new StackError(`building the apps: cannot run ${this.command.command}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve(code ?? (signal ? 128 : 1));
      });
    })
      .finally(() => closeSync(out))
      .then((code) => {
        const log = tail(this.logFile, 60);
        if (code !== 0) {
          throw new StackError(
            `building the apps failed (exit ${code}): nothing was started from the old dist/`,
            log,
            `fix the compiler errors (all of them in ${this.logFile}) and run it again; the servers keep their data`,
          );
        }
        const missing = this.builds.map((b) => b.outputPath).filter((dir) => !existsSync(join(this.repoRoot, dir)));
        if (missing.length) throw new StackError(`the build succeeded but wrote no ${missing.join(', ')}`, log);
        return { durationMs: Date.now() - startedAt, cached: cachedEverything(log, this.builds.length) };
      });
  }
}

/** Nx's closing line when no task ran: "Nx read the output from the cache instead of running the command for 2 out of 2 tasks." */
export function cachedEverything(output: string, tasks: number): boolean {
  const m = /for (\d+) out of (\d+) tasks/.exec(output);
  return m !== null && Number(m[1]) === Number(m[2]) && Number(m[2]) >= tasks;
}
