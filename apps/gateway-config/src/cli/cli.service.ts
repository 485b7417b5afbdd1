import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadTopology, TopologyError, withoutEdge } from '@keyflow/topology';
import { renderAll, renderGatewayConfigs } from '../render/render.service';
import { writeRenderedFiles } from '../render/render-writer.util';
import { parseCliArgs, USAGE, type CliCommand } from './cli-args.util';
import { CliUsageError } from './cli-usage.exception';
import { ensureLocalCa, writeEdgePem } from './local-ca.util';
import { ensureSelfSignedCert } from './self-signed-cert.util';

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

function execute(command: CliCommand, io: CliOutput, cwd: string): number {
  switch (command.kind) {
    case 'help':
      io.out(USAGE);
      return EXIT_OK;
    case 'validate':
      loadTopology(resolve(cwd, command.topology));
      io.out('ok');
      return EXIT_OK;
    case 'render': {
      const declared = loadTopology(resolve(cwd, command.topology));
      const loaded = command.noEdge ? withoutEdge(declared) : declared;
      const topology = {
        ...loaded,
        gateway:
          command.consoleRoot === undefined
            ? loaded.gateway
            : { ...loaded.gateway, consoleRoot: resolve(cwd, command.consoleRoot) },
      };
      const outDir = resolve(cwd, command.outDir);
      const runDir = resolve(cwd, command.runDir ?? command.outDir);
      // The configs name the files where they are read at run time, which is not always where they are written.
      const confDir = resolve(cwd, command.confDir ?? command.outDir);
      const paths = { runDir, outDir: confDir, baseDir: cwd };
      const files = [
        ...renderAll(topology, paths),
        ...(command.perGateway ? renderGatewayConfigs(topology, paths) : []),
      ];
      // nginx refuses to start when its prefix or error log directory is missing. 0755: when nginx runs as
      // root its workers run as nobody and must still reach their temp dirs in here.
      mkdirSync(runDir, { recursive: true, mode: 0o755 });
      for (const written of writeRenderedFiles(files, outDir)) io.out(`wrote ${written}`);
      if (topology.gateway.tls.mode === 'local-ca') {
        const ca = ensureLocalCa(topology, outDir);
        for (const f of [ca.caFile, ca.certFile, ca.keyFile]) {
          const made = f === ca.caFile ? ca.created.includes('ca') : ca.created.includes('certificate');
          io.out(`${made ? 'wrote' : 'kept'} ${f}`);
        }
      }
      if (topology.gateway.tls.mode === 'self-signed') {
        const cert = ensureSelfSignedCert(topology, outDir);
        const verb = cert.created ? 'wrote' : 'kept';
        io.out(`${verb} ${cert.certFile}`);
        io.out(`${verb} ${cert.keyFile}`);
      }
      if (topology.edge && topology.gateway.tls.mode !== 'files' && topology.gateway.tls.mode !== 'off') {
        io.out(`wrote ${writeEdgePem(outDir)}`);
      }
      return EXIT_OK;
    }
  }
}

/**
 * Runs one CLI invocation and returns its exit code: 0 done, 1 invalid topology or failed render,
 * 2 bad command line. Never calls process.exit, so tests can drive it.
 */
export function runCli(argv: string[], io: CliOutput, cwd = process.cwd()): number {
  try {
    return execute(parseCliArgs(argv), io, cwd);
  } catch (err) {
    if (err instanceof CliUsageError) {
      io.err(`gateway-config: ${err.message}`);
      io.err(err.showUsage ? `\n${USAGE}` : 'Run "gateway-config --help" for usage.');
      return EXIT_USAGE;
    }
    if (err instanceof TopologyError) {
      io.err(err.message);
      return EXIT_FAILED;
    }
    io.err(`gateway-config: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_FAILED;
  }
}
