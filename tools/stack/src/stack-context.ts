import type { StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import type { StackRecord } from './stack-file.util';
import type { StackLayout } from './stack-layout.util';
import type { Progress } from './util/progress.util';

/** What a server needs to start: the topology, where to put things, where to report, where to record pids. */
export interface StartContext {
  topology: Topology;
  layout: StackLayout;
  progress: Progress;
  record: StackRecord;
}

export interface Health {
  healthy: boolean;
  detail: string;
}

/** How `down` and `status` treat one kind of recorded process, from its stack.json entry alone. */
export interface ProcessControl {
  /** Stops the process and resolves with what happened (`stopped`, `killed`, `not running`). */
  stop(proc: StackProcess): Promise<string>;
  health(proc: StackProcess): Promise<Health>;
}
