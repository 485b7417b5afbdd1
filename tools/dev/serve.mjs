#!/usr/bin/env node
// Runs an app in watch mode against the running local stack: `nx run-many -t serve -p api worker`.
// Usage: node tools/dev/serve.mjs <api|worker> -- <command …>
// The environment comes from .keyflow/stack.json (written by `npm start`); the dev instances listen on
// their own ports (api-dev :3000, worker-dev :3100) next to the stack's, and are not behind the gateway.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [app, separator, ...command] = process.argv.slice(2);
if (!['api', 'worker'].includes(app) || separator !== '--' || command.length === 0) {
  console.error('usage: node tools/dev/serve.mjs <api|worker> -- <command …>');
  process.exit(2);
}
const stackFile = process.env.KEYFLOW_STACK_FILE ?? join(root, '.keyflow', 'stack.json');
if (!existsSync(stackFile)) {
  console.error(`serve: ${stackFile} not found. Start the local stack first: npm start`);
  process.exit(1);
}
const stack = JSON.parse(readFileSync(stackFile, 'utf8'));
// The shard count is the stack's own: read it from how the stack launched its first worker.
const shards = (() => {
  try {
    const worker = stack.processes.find((p) => p.kind === 'worker');
    return JSON.parse(readFileSync(join(stack.stackDir, 'run', `${worker.name}.json`), 'utf8')).env.KV_SHARDS ?? '16';
  } catch {
    return '16';
  }
})();
const env = {
  ...process.env,
  KEYFLOW_INSTANCE: process.env.KEYFLOW_INSTANCE ?? `${app}-dev`,
  HOST: process.env.HOST ?? '127.0.0.1',
  PORT: process.env.PORT ?? (app === 'api' ? '3000' : '3100'),
  AMQP_URL: stack.amqpGateway ?? stack.amqp.join(','),
  REDIS_NODES: stack.redis.join(','),
  // The apps' Redis ACL user (the URLs above carry their database and broker logins).
  REDIS_USERNAME: stack.credentials?.redis.app.username,
  REDIS_PASSWORD: stack.credentials?.redis.app.password,
  DATABASE_URL: stack.db.write ?? stack.db.primary,
  DATABASE_READ_URL: stack.db.read ?? stack.db.replica ?? stack.db.primary,
  KV_SHARDS: shards,
};
console.log(`serve: ${env.KEYFLOW_INSTANCE} on http://${env.HOST}:${env.PORT} against ${stackFile}`);
const child = spawn(command[0], command.slice(1), { cwd: root, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
