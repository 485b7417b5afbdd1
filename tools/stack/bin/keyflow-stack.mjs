#!/usr/bin/env node
// `npm start` / `npm stop` / `npm run status`: bootstrap, then hand over to tools/stack/src/main.ts.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { bootstrap, REPO_ROOT, stackMainArgs } from './bootstrap.mjs';

bootstrap(REPO_ROOT);

// The TypeScript entry runs from the repository root (swc reads tsconfig.json there), so a topology path
// given relative to where the user stands is made absolute first.
const args = process.argv.slice(2).map((arg, i, all) => {
  if (all[i - 1] === '--topology') return resolve(arg);
  if (arg.startsWith('--topology=')) return `--topology=${resolve(arg.slice('--topology='.length))}`;
  return arg;
});
// Ctrl-C reaches the child too; let it finish its own cleanup and report its exit code.
process.on('SIGINT', () => undefined);
const res = spawnSync(process.execPath, stackMainArgs(args), { cwd: REPO_ROOT, stdio: 'inherit' });
process.exit(res.status ?? 1);
