import type { StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import type { StackRecord } from './stack-file.util';
import type { StackLayout } from './stack-layout.util';
import type { ProgramSpec } from './supervisor/supervisor-conf.util';
import type { SupervisorService } from './supervisor/supervisor.service';
import type { Progress } from './util/progress.util';

/** What a component needs to start: the topology, where things live, where to report, the supervisor, the record. */
export interface StartContext {
  topology: Topology;
  layout: StackLayout;
  progress: Progress;
  record: StackRecord;
  supervisor: SupervisorService;
}

export interface Health {
  healthy: boolean;
  detail: string;
}

/** How `down`, `status` and stray clean-up treat one kind of recorded process, from its stack.json entry alone. */
export interface ProcessControl {
  /** Stops a process the supervisor no longer runs (a stray) and resolves with what happened. */
  stop(proc: StackProcess): Promise<string>;
  health(proc: StackProcess): Promise<Health>;
}

/** A program for the supervisor together with what stack.json says about it (its pid is filled in later). */
export interface SupervisedProcess {
  spec: ProgramSpec;
  proc: Omit<StackProcess, 'pid'>;
}

/**
 * One part of the stack (Redis, RabbitMQ, PostgreSQL, HAProxy, the apps, nginx, named). `prepare` writes its
 * config files and says which programs the supervisor runs, without starting anything; `ensure` starts through
 * the supervisor whatever of it is not running and waits until it is ready, doing one-time set-up (a cluster
 * create, a database) only when the data on disk does not have it yet. `ensure` never deletes data.
 */
export interface StackComponent extends ProcessControl {
  prepare(ctx: Omit<StartContext, 'record' | 'supervisor' | 'progress'>): SupervisedProcess[];
  ensure(ctx: StartContext): Promise<void>;
}
