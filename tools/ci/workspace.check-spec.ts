import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The workspace checks CI runs with the tests, so they count in `npm test`'s summary like any test: lint with the
 * module boundaries on the real Nx graph, every TypeScript project type-checked (the k6 scripts included), and
 * the formatting Prettier would give. Each shows the tool's own output when it fails.
 */
const REPO_ROOT = resolve(__dirname, '../..');

/** Runs without blocking the test worker's event loop (vitest's own RPC times out under a long spawnSync). */
function npmScript(script: string): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, NX_DAEMON: 'false', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ status: code ?? 1, output: output.trim() }));
  });
}

describe('workspace checks', () => {
  it('should pass eslint (npm run lint)', async () => {
    const res = await npmScript('lint');
    expect(res.status, res.output).toBe(0);
  });

  it('should type-check every project, the k6 scripts included (npm run typecheck)', async () => {
    const res = await npmScript('typecheck');
    expect(res.status, res.output).toBe(0);
  });

  it('should be formatted as Prettier would (npm run format:check)', async () => {
    const res = await npmScript('format:check');
    expect(res.status, res.output).toBe(0);
  });
});
