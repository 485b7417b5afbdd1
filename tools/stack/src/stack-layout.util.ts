import { isAbsolute, join, resolve } from 'node:path';

/** Where a stack keeps everything: `<stackDir>/{conf,run,logs,data}` and `<stackDir>/stack.json`. */
export interface StackLayout {
  repoRoot: string;
  topologyFile: string;
  stackDir: string;
  conf: string;
  run: string;
  logs: string;
  data: string;
  stackFile: string;
}

/** `stackDir` is relative to the repository root unless absolute; the topology file to the working directory. */
export function stackLayout(repoRoot: string, topologyFile: string, stackDir: string): StackLayout {
  const dir = isAbsolute(stackDir) ? stackDir : join(repoRoot, stackDir);
  return {
    repoRoot,
    topologyFile: resolve(topologyFile),
    stackDir: dir,
    conf: join(dir, 'conf'),
    run: join(dir, 'run'),
    logs: join(dir, 'logs'),
    data: join(dir, 'data'),
    stackFile: join(dir, 'stack.json'),
  };
}

export function logFile(layout: StackLayout, name: string): string {
  return join(layout.logs, `${name}.log`);
}
