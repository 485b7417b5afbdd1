import { runCli } from './cli/cli.service';

// Entry point: `node -r @swc-node/register apps/gateway-config/src/main.ts <command>` (npm run gateway-config --).
process.exitCode = runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
