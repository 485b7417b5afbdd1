import { findRepoRoot } from '@keyflow/testing';
import { TopologyError } from '@keyflow/topology';
import { resolve } from 'node:path';
import { parseStackArgs, StackUsageError, USAGE, type StackCommand } from './cli/cli-args.util';
import { StackService } from './stack.service';

// Walked up to, not counted: a build runs from dist/tools/stack/tools/stack/src/.
const REPO_ROOT = findRepoRoot(__dirname) ?? resolve(__dirname, '../../..');

// nginx, haproxy and named live in sbin, which a non-root PATH often lacks.
for (const dir of ['/usr/local/sbin', '/usr/sbin', '/sbin']) {
  if (!(process.env['PATH'] ?? '').split(':').includes(dir))
    process.env['PATH'] = `${process.env['PATH'] ?? ''}:${dir}`;
}

async function main(argv: string[]): Promise<number> {
  let command: StackCommand;
  try {
    command = parseStackArgs(argv);
  } catch (err) {
    if (!(err instanceof StackUsageError)) throw err;
    console.error(`keyflow-stack: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  const stack = new StackService(REPO_ROOT);
  try {
    switch (command.kind) {
      case 'help':
        console.log(USAGE);
        return 0;
      case 'up':
        return await stack.up(command.topology);
      case 'down':
        return await stack.down(command.topology);
      case 'status':
        return await stack.status(command.topology, { json: command.json });
      case 'reset':
        return await stack.reset(command.topology, { yes: command.yes });
      case 'restart':
        return await stack.restart(command.topology, command.name);
    }
  } catch (err) {
    if (err instanceof TopologyError) {
      console.error(err.message);
      return 1;
    }
    stack.printError(err);
    return 1;
  }
}

// Exit explicitly: the servers run detached, and no lingering socket may keep this CLI alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
