import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildArgs, buildOptions, compiledEntry, withStackCa } from './run-built.mjs';

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

describe(withStackCa.name, () => {
  it("should point NODE_EXTRA_CA_CERTS at the stack's CA, unless the caller set one or the stack has none", () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-built-'));
    try {
      const ca = join(dir, 'ca.crt');
      writeFileSync(ca, 'PEM');
      const withCa = join(dir, 'stack.json');
      writeFileSync(withCa, JSON.stringify({ ca }));
      const without = join(dir, 'plain.json');
      writeFileSync(without, JSON.stringify({ gateway: 'http://127.0.0.1:1' }));
      expect(withStackCa({ PATH: '/bin' }, withCa)).toEqual({ PATH: '/bin', NODE_EXTRA_CA_CERTS: ca });
      expect(withStackCa({ NODE_EXTRA_CA_CERTS: '/mine.pem' }, withCa)).toEqual({ NODE_EXTRA_CA_CERTS: '/mine.pem' });
      expect(withStackCa({ PATH: '/bin' }, without)).toEqual({ PATH: '/bin' });
      expect(withStackCa({ PATH: '/bin' }, join(dir, 'missing.json'))).toEqual({ PATH: '/bin' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
