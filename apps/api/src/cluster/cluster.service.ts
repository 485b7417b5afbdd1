import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import { DEAD_LETTER_QUEUE, shardQueueName } from '@keyflow/contracts';
import { AMQP, REDIS } from '@keyflow/runtime';
import type { Topology } from '@keyflow/topology';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { clusterProcesses, databasePrimary, type ClusterProcess } from './cluster-processes.util';
import type { ClusterProcessDto, ClusterResponseDto, QueueDepthDto } from './dto/cluster.dto';
import { answers200, probe } from './process-probe.util';

/** The topology the API describes (`CLUSTER_TOPOLOGY`), or null when it was given none. */
export const CLUSTER_TOPOLOGY = Symbol('CLUSTER_TOPOLOGY');

/** One check may take this long; all run at once, so the whole answer takes about as long. */
const PROBE_TIMEOUT_MS = 1_500;

/**
 * The admin's view of the deployment: every process of the topology checked from this instance, who is the database
 * primary, the queues' depths. Checked on each call (an admin page refreshes it every few seconds); nothing cached.
 */
@Injectable()
export class ClusterService implements OnModuleDestroy {
  private channel?: ChannelWrapper;

  constructor(
    @Inject(CLUSTER_TOPOLOGY) private readonly topology: Topology | null,
    @Inject(AMQP) private readonly amqp: AmqpConnectionManager,
    @Inject(REDIS) private readonly redis: Cluster,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async onModuleDestroy(): Promise<void> {
    await this.channel?.close().catch(() => undefined);
  }

  async describe(): Promise<ClusterResponseDto> {
    const t = this.topology;
    const processes = t ? clusterProcesses(t) : [];
    const [checked, queues] = await Promise.all([this.check(processes), this.queueDepths()]);
    const primaries = checked.filter((p) => p.role === 'primary').map((p) => p.name);
    const deadLetters = queues.find((q) => q.name === DEAD_LETTER_QUEUE)?.messages ?? null;
    return {
      instance: this.config.KEYFLOW_INSTANCE,
      checkedAt: new Date().toISOString(),
      topology: t?.name ?? null,
      processes: checked,
      databaseKind: t?.database.kind ?? null,
      databasePrimary: t ? databasePrimary(t, primaries) : null,
      queues,
      deadLetters,
    };
  }

  private async check(processes: ClusterProcess[]): Promise<ClusterProcessDto[]> {
    const redisRoles = this.redisRoles();
    return Promise.all(
      processes.map(async (p) => {
        const [result, primary] = await Promise.all([
          probe(p.probe, PROBE_TIMEOUT_MS),
          p.primaryUrl ? answers200(p.primaryUrl, PROBE_TIMEOUT_MS) : Promise.resolve(undefined),
        ]);
        const role =
          p.kind === 'redis'
            ? redisRoles.get(p.address)
            : primary === undefined
              ? undefined
              : primary
                ? 'primary'
                : 'replica';
        return {
          name: p.name,
          kind: p.kind,
          address: p.address,
          status: result.up ? 'up' : 'down',
          latencyMs: result.latencyMs,
          ...(role && result.up ? { role } : {}),
          ...(result.detail ? { detail: result.detail } : {}),
        } satisfies ClusterProcessDto;
      }),
    );
  }

  /** Master or replica per `host:port`, as the cluster client last saw the slots. */
  private redisRoles(): Map<string, string> {
    const roles = new Map<string, string>();
    for (const [role, nodes] of [
      ['master', this.redis.nodes('master')],
      ['replica', this.redis.nodes('slave')],
    ] as const) {
      for (const node of nodes) roles.set(`${String(node.options.host)}:${String(node.options.port)}`, role);
    }
    return roles;
  }

  private async queueDepths(): Promise<QueueDepthDto[]> {
    const names = [...Array.from({ length: this.config.KV_SHARDS }, (_, i) => shardQueueName(i)), DEAD_LETTER_QUEUE];
    this.channel ??= this.amqp.createChannel({ name: 'cluster-status', confirm: false });
    const channel = this.channel;
    // A channel made on the first call (or re-opened after a broker restart) asks nothing until it is open.
    await withTimeout(channel.waitForConnect(), PROBE_TIMEOUT_MS).catch(() => undefined);
    return Promise.all(
      names.map(async (name) => {
        try {
          const q = await withTimeout(channel.checkQueue(name), PROBE_TIMEOUT_MS);
          return { name, messages: q.messageCount, consumers: q.consumerCount };
        } catch {
          return { name, messages: null, consumers: null };
        }
      }),
    );
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
