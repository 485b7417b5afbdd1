// Shared start of keyflow-stack.mjs and keyflow-test.mjs. Plain Node, no dependencies: it runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Debian packages that provide the servers; a fresh CI machine may lack some of them. */
export const APT_PACKAGES = [
  'haproxy',
  'nginx',
  'bind9',
  'bind9-dnsutils',
  'redis-server',
  'redis-tools',
  'rabbitmq-server',
  'postgresql-15',
  'postgresql-client-15',
  'prometheus',
  'keepalived',
  'openssl',
  'iproute2',
  'supervisor',
  'patroni',
  // Patroni's etcd (v2 API) client; patroni already depends on it as its first DCS alternative.
  'python3-etcd',
  'etcd-server',
  // The second load generator of `npm run bench` (issue 14's targets table), next to the Node runner.
  'wrk',
  // The console's browser tests (issue 17): playwright-core drives Debian's Chromium, nothing is downloaded.
  'chromium',
  // Monitoring that runs (issue 18): Alertmanager and the exporters Prometheus scrapes.
  'prometheus-alertmanager',
  'prometheus-node-exporter',
  'prometheus-postgres-exporter',
  'prometheus-redis-exporter',
];

/** Found on PATH (plus the sbin directories, which a non-root PATH often lacks) or at an absolute path. */
export const REQUIRED_BINARIES = [
  'nginx',
  'haproxy',
  'named',
  'redis-server',
  'redis-cli',
  '/usr/lib/rabbitmq/bin/rabbitmq-server',
  '/usr/lib/postgresql/15/bin/initdb',
  'psql',
  'named-checkzone',
  'promtool',
  'keepalived',
  'openssl',
  'ip',
  'supervisord',
  'supervisorctl',
  'patroni',
  'etcd',
  'chromium',
];

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** PATH with the sbin directories appended: nginx, haproxy and named live there. */
export function withSbin(path = process.env.PATH ?? '') {
  const parts = path.split(delimiter).filter(Boolean);
  return [...parts, ...SBIN.filter((dir) => !parts.includes(dir))].join(delimiter);
}

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function missingBinaries(path = withSbin()) {
  return REQUIRED_BINARIES.filter((bin) =>
    bin.startsWith('/') ? !executable(bin) : !path.split(delimiter).some((dir) => executable(join(dir, bin))),
  );
}

/** To stderr: stdout belongs to the command (`status --json` prints JSON there). */
function log(message) {
  console.error(`[bootstrap] ${message}`);
}

/** `npm ci` when node_modules is missing or older than package-lock.json (npm stamps node_modules/.package-lock.json). */
function ensureNodeModules(root) {
  const lock = join(root, 'package-lock.json');
  const modules = join(root, 'node_modules');
  const stamp = join(modules, '.package-lock.json');
  let reason;
  if (!existsSync(modules)) reason = 'node_modules is missing';
  else if (existsSync(lock) && statSync(existsSync(stamp) ? stamp : modules).mtimeMs < statSync(lock).mtimeMs) {
    reason = 'node_modules is older than package-lock.json';
  }
  if (!reason) return;
  // A git worktree that shares another checkout's node_modules through a symlink: `npm ci` would empty the other
  // checkout's copy (it removes node_modules first) and install a new one here. Leave it to the owner to update.
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) {
    log(`${reason}, but node_modules is a link to another checkout's: not running npm ci (run it there)`);
    return;
  }
  if (process.env.KEYFLOW_SKIP_NPM_CI === '1') {
    log(`${reason}, but KEYFLOW_SKIP_NPM_CI=1: not running npm ci`);
    return;
  }
  log(`${reason}: npm ci --no-audit --no-fund`);
  const res = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['inherit', 2, 2] });
  if (res.status === 0) return;
  // npm 11 on this kind of machine (omit-lockfile-registry-resolved) writes lock files that leave out other
  // platforms' optional packages, and then its own `npm ci` refuses them as out of sync. `npm install
  // --no-save` installs the same locked versions without rewriting package.json or the lock file.
  log(`npm ci failed (exit ${res.status ?? res.signal}); falling back to npm install --no-save`);
  const fallback = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: ['inherit', 2, 2],
  });
  if (fallback.status !== 0) {
    log(`npm install failed (exit ${fallback.status ?? fallback.signal})`);
    process.exit(1);
  }
}

function ensureBinaries() {
  const missing = missingBinaries();
  if (!missing.length) return;
  const install = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${APT_PACKAGES.join(' ')}`;
  if (process.getuid?.() !== 0) {
    log(`missing: ${missing.join(', ')}. Install the servers as root:`);
    console.log(`  sudo sh -c '${install}'`);
    process.exit(1);
  }
  log(`missing: ${missing.join(', ')}; installing: ${install}`);
  const res = spawnSync('sh', ['-c', install], {
    stdio: ['inherit', 2, 2],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const still = missingBinaries();
  if (res.status !== 0 || still.length) {
    log(
      `installing the servers failed (exit ${res.status ?? res.signal}); still missing: ${still.join(', ') || 'none'}`,
    );
    process.exit(1);
  }
}

/** Everything the stack needs before TypeScript can run: dependencies and the server binaries. */
export function bootstrap(root = REPO_ROOT) {
  ensureNodeModules(root);
  ensureBinaries();
  process.env.PATH = withSbin();
}

/** argv for running the stack's TypeScript entry with Node (swc registers TypeScript and the path aliases). */
export function stackMainArgs(args) {
  return ['-r', '@swc-node/register', 'tools/stack/src/main.ts', ...args];
}
