export interface BuildOptions {
  rootDir: string;
  outputPath: string;
  [option: string]: unknown;
}

export function compiledEntry(buildOptions: BuildOptions, source: string): string;
export function buildOptions(root: string, project: string): BuildOptions;
export function buildArgs(root: string, project: string): string[];
export function runBuilt(project: string, source: string, args: string[]): number;
export function withStackCa(env: NodeJS.ProcessEnv, stackFile?: string): NodeJS.ProcessEnv;
