import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildArgs, buildOptions, compiledEntry } from './run-built.mjs';

const ROOT = process.cwd();

describe(compiledEntry.name, () => {
  it('should find the compiled entry of each tool that an npm script runs, from its own build target', () => {
    expect(compiledEntry(buildOptions(ROOT, 'dlq'), 'tools/dlq/src/main.ts')).toBe(
      'dist/tools/dlq/tools/dlq/src/main.js',
    );
    expect(compiledEntry(buildOptions(ROOT, 'gateway-config'), 'apps/gateway-config/src/main.ts')).toBe(
      'dist/apps/gateway-config/apps/gateway-config/src/main.js',
    );
    expect(existsSync(join(ROOT, 'tools/dlq/src/main.ts'))).toBe(true);
    expect(existsSync(join(ROOT, 'apps/gateway-config/src/main.ts'))).toBe(true);
  });

  it('should refuse a build whose layout it cannot predict, and a non-TypeScript entry', () => {
    expect(() => compiledEntry({ rootDir: 'src', outputPath: 'dist/x' }, 'src/main.ts')).toThrow('rootDir');
    expect(() => compiledEntry({ rootDir: '.', outputPath: 'dist/x' }, 'src/main.js')).toThrow('not a TypeScript');
  });
});

describe(buildOptions.name, () => {
  it('should say which project is unknown', () => {
    expect(() => buildOptions(ROOT, 'nope')).toThrow('no project "nope" under apps/ or tools/');
  });
});

describe(buildArgs.name, () => {
  it("should run Nx's own CLI for the project's build target", () => {
    expect(buildArgs('/repo', 'dlq')).toEqual([
      '/repo/node_modules/nx/bin/nx.js',
      'run',
      'dlq:build',
      '--outputStyle=static',
    ]);
  });
});
