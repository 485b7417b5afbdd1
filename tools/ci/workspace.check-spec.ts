import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The workspace checks CI runs with the tests, so they count in `npm test`'s summary like any test: lint with the
 * module boundaries on the real Nx graph, every TypeScript project type-checked (the k6 scripts included), and
 * the formatting Prettier would give. Each shows the tool's own output when it fails.
 */
const REPO_ROOT = resolve(__dirname, '../..');

function npmScript(script: string): { status: number; output: string } {
  const res = spawnSync('npm', ['run', '--silent', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, NX_DAEMON: 'false', FORCE_COLOR: '0' },
  });
  return { status: res.status ?? 1, output: `${res.stdout}${res.stderr}`.trim() };
}

describe('workspace checks', () => {
  it('should pass eslint (npm run lint)', () => {
    const res = npmScript('lint');
    expect(res.status, res.output).toBe(0);
  });

  it('should type-check every project, the k6 scripts included (npm run typecheck)', () => {
    const res = npmScript('typecheck');
    expect(res.status, res.output).toBe(0);
  });

  it('should be formatted as Prettier would (npm run format:check)', () => {
    const res = npmScript('format:check');
    expect(res.status, res.output).toBe(0);
  });
});
