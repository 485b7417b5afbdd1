import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StackError } from '../stack.exception';
import { Progress } from '../util/progress.util';
import {
  API_BUILD,
  AppBuildService,
  buildCommand,
  cachedEverything,
  compiledPath,
  CONSOLE_BUILD,
  STACK_BUILDS,
  WORKER_BUILD,
} from './app-build.service';

interface BuildOptions {
  main: string;
  tsConfig: string;
  rootDir: string;
  outputPath: string;
  transformers: string[];
  assets: Array<{ input: string; glob: string; output: string }>;
}

function buildTarget(project: string): { executor: string; options: BuildOptions } {
  const root = ['api', 'worker', 'console'].includes(project) ? `apps/${project}` : `tools/${project}`;
  const json = JSON.parse(readFileSync(join(process.cwd(), root, 'project.json'), 'utf8')) as {
    targets: { build: { executor: string; options: BuildOptions } };
  };
  return json.targets.build;
}

describe(compiledPath.name, () => {
  it('should keep the repository layout under the output path, as tsc does with rootDir "."', () => {
    expect(compiledPath(API_BUILD, 'apps/api/src/main.ts')).toBe('dist/apps/api/apps/api/src/main.js');
    expect(compiledPath(WORKER_BUILD, 'apps/worker/src/migrate.ts')).toBe(
      'dist/apps/worker/apps/worker/src/migrate.js',
    );
  });

  it('should refuse a path that is not a TypeScript source', () => {
    expect(() => compiledPath(API_BUILD, 'apps/api/src/main.js')).toThrow('not a TypeScript source');
  });
});

describe('the build targets the stack runs', () => {
  it.each(STACK_BUILDS.filter((b) => b !== CONSOLE_BUILD).map((b) => [b.project, b] as const))(
    'should compile %s with tsc into the output path the stack expects, aliases rewritten, migrations copied',
    (project, build) => {
      const { executor, options } = buildTarget(project);
      expect(executor).toBe('@nx/js:tsc');
      expect(options).toMatchObject({
        rootDir: '.',
        outputPath: build.outputPath,
        main: `apps/${project}/src/main.ts`,
      });
      // Without the transformer the compiled requires would still say '@keyflow/db', which Node cannot resolve.
      expect(options.transformers).toContain('typescript-transform-paths/plugins/nx');
      // libs/db finds its migrations next to its compiled code (__dirname).
      expect(options.assets).toContainEqual({
        input: 'libs/db/src/migrations',
        glob: '*.sql',
        output: 'libs/db/src/migrations',
      });
      const tsconfig = readFileSync(join(process.cwd(), options.tsConfig), 'utf8');
      expect(tsconfig).toContain('"src/**/*.ts"');
    },
  );
});

describe('the console build', () => {
  it('should build the static console with Vite, cached by Nx, into the path the gateways serve', () => {
    const target = buildTarget('console') as unknown as {
      executor: string;
      options: { command: string };
      outputs: string[];
    };
    expect(target.executor).toBe('nx:run-commands');
    expect(target.options.command).toContain('vite build --config apps/console/vite.config.mts');
    expect(target.outputs).toEqual([`{workspaceRoot}/${CONSOLE_BUILD.outputPath}`]);
  });
});

describe(buildCommand.name, () => {
  it("should run Nx's own CLI under a lock, without the daemon's help, one task at a time", () => {
    expect(buildCommand('/repo', STACK_BUILDS, '/usr/bin/node')).toEqual({
      command: 'flock',
      args: [
        '/repo/dist/.build.lock',
        '/usr/bin/node',
        '/repo/node_modules/nx/bin/nx.js',
        'run-many',
        '--targets=build',
        '--projects=api,worker,console',
        '--outputStyle=static',
        '--parallel=1',
      ],
    });
  });
});

describe(cachedEverything.name, () => {
  it('should tell a build restored from the cache from one that compiled', () => {
    const all = 'Nx read the output from the cache instead of running the command for 2 out of 2 tasks.';
    expect(cachedEverything(all, 2)).toBe(true);
    expect(cachedEverything(all.replace('2 out', '1 out'), 2)).toBe(false);
    expect(cachedEverything('Successfully ran target build for 2 projects', 2)).toBe(false);
  });
});

describe(AppBuildService.name, () => {
  let repo: string;
  let lines: string[];
  let progress: Progress;

  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'keyflow-build-spec-'));
    lines = [];
    progress = new Progress((line) => lines.push(line));
  });

  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  function service(script: string): AppBuildService {
    return new AppBuildService(repo, join(repo, 'logs/build.log'), [API_BUILD], {
      command: 'sh',
      args: ['-c', script],
    });
  }

  describe('wait', () => {
    it('should run the build in the repository, report it with its duration, and keep its output', async () => {
      const build = service('mkdir -p dist/apps/api && echo "Compiling TypeScript files for project api"');
      const result = await build.wait(progress);
      expect(result.cached).toBe(false);
      expect(existsSync(join(repo, 'dist/apps/api'))).toBe(true);
      expect(lines).toEqual([
        expect.stringMatching(/build: building apps… \(api; compiler output in .*\/logs\/build\.log\)$/),
        expect.stringMatching(/build: api compiled in \d+\.\d s$/),
      ]);
      expect(readFileSync(join(repo, 'logs/build.log'), 'utf8')).toContain('Compiling TypeScript files');
    });

    it('should say the apps are up to date when Nx restored them from its cache', async () => {
      const build = service(
        'mkdir -p dist/apps/api && echo "Nx read the output from the cache instead of running the command for 1 out of 1 tasks."',
      );
      expect(await build.wait(progress)).toMatchObject({ cached: true });
      expect(lines.at(-1)).toMatch(/build: api up to date \(Nx cache, \d+\.\d s\)$/);
    });

    it("should fail with the compiler's output, so that no app starts from an old dist/", async () => {
      const build = service(
        'mkdir -p dist/apps/api; echo "apps/api/src/main.ts(3,7): error TS2322: Type string is not assignable to type number."; exit 1',
      );
      const error = await build.wait(progress).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StackError);
      expect(error).toMatchObject({
        message: 'building the apps failed (exit 1): nothing was started from the old dist/',
        detail: 'apps/api/src/main.ts(3,7): error TS2322: Type string is not assignable to type number.',
      });
      expect((error as StackError).hint).toContain(join(repo, 'logs/build.log'));
    });

    it('should fail when the build succeeds without writing the output path', async () => {
      await expect(service('true').wait(progress)).rejects.toThrow('the build succeeded but wrote no dist/apps/api');
    });

    it('should build once and report once, however many steps wait, when started early', async () => {
      const build = service('echo run >> runs.txt; mkdir -p dist/apps/api');
      build.start();
      build.start();
      await Promise.all([build.wait(progress), build.wait(progress)]);
      await build.wait(progress);
      expect(readFileSync(join(repo, 'runs.txt'), 'utf8')).toBe('run\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toContain('started with the servers');
    });

    it('should not leave an unhandled rejection when a build started early fails and nobody waits', async () => {
      const build = service('exit 2');
      build.start();
      await new Promise((r) => setTimeout(r, 200));
      await expect(build.wait(progress)).rejects.toThrow('exit 2');
    });
  });
});
