#!/usr/bin/env node
// `npm run dlq` / `npm run gateway-config` / `npm run kv` / `npx keyflow`: compile an Nx project (its `build` target;
// Nx's cache makes an unchanged build a few seconds) and run one of its entries as JavaScript, with no TypeScript
// loader, in the caller's working directory.
//   node tools/stack/bin/run-built.mjs <project> <entry source .ts> [arguments for the entry…]
// The build's output is shown only when it fails (stdout belongs to the tool: `dlq list --json`).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Where `@nx/js:tsc` with `rootDir: "."` puts a source file: the same relative path under `outputPath`, as `.js`. */
export function compiledEntry(buildOptions, source) {
  if (buildOptions.rootDir !== '.')
    throw new Error(`expected rootDir "." in the build target, not ${buildOptions.rootDir}`);
  if (!source.endsWith('.ts')) throw new Error(`not a TypeScript source: ${source}`);
  return join(buildOptions.outputPath, `${source.slice(0, -'.ts'.length)}.js`);
}

/** The project's `build` options from its project.json (apps/<name> or tools/<name>). */
export function buildOptions(root, project) {
  for (const dir of ['apps', 'tools']) {
    let json;
    try {
      json = JSON.parse(readFileSync(join(root, dir, project, 'project.json'), 'utf8'));
    } catch {
      continue;
    }
    const options = json.targets?.build?.options;
    if (!options) throw new Error(`${dir}/${project}/project.json has no build target`);
    return options;
  }
  throw new Error(`no project "${project}" under apps/ or tools/`);
}

export function buildArgs(root, project) {
  return [join(root, 'node_modules/nx/bin/nx.js'), 'run', `${project}:build`, '--outputStyle=static'];
}

/** Builds `project` and runs its compiled `source` with `args`; returns the exit code to exit with. */
export function runBuilt(project, source, args) {
  // Absolute: the caller's working directory may be anywhere in (or outside) the repository.
  const entry = join(REPO_ROOT, compiledEntry(buildOptions(REPO_ROOT, project), source));
  const build = spawnSync(process.execPath, buildArgs(REPO_ROOT, project), {
    cwd: REPO_ROOT,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
    encoding: 'utf8',
  });
  if (build.status !== 0) {
    process.stderr.write(`${build.stdout ?? ''}${build.stderr ?? ''}`);
    console.error(`building ${project} failed (exit ${build.status ?? build.signal}): not running ${entry}`);
    return 1;
  }
  process.on('SIGINT', () => undefined);
  const res = spawnSync(process.execPath, [entry, ...args], {
    cwd: process.cwd(),
    stdio: 'inherit',
    env: withStackCa(process.env),
  });
  return res.status ?? 1;
}

function main([project, source, ...args]) {
  if (!project || !source) {
    console.error('usage: node tools/stack/bin/run-built.mjs <project> <entry source .ts> [arguments…]');
    return 2;
  }
  return runBuilt(project, source, args);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(main(process.argv.slice(2)));

/**
 * The local stack's gateways speak HTTPS with a certificate from the stack's own CA: a tool run here trusts that CA
 * too (NODE_EXTRA_CA_CERTS, read by Node at start), unless the caller chose its own. The stack file is
 * KEYFLOW_STACK_FILE or the repository's .keyflow/stack.json, as the tools read it.
 */
export function withStackCa(env, stackFile = env.KEYFLOW_STACK_FILE || join(REPO_ROOT, '.keyflow', 'stack.json')) {
  if (env.NODE_EXTRA_CA_CERTS) return env;
  try {
    const { ca } = JSON.parse(readFileSync(stackFile, 'utf8'));
    return typeof ca === 'string' && existsSync(ca) ? { ...env, NODE_EXTRA_CA_CERTS: ca } : env;
  } catch {
    return env;
  }
}
