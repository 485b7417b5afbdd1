import { Cluster, type ClusterOptions } from 'ioredis';

export interface RedisClusterOptions {
  /** `host:port` of at least one node; the client discovers the rest. */
  nodes: string[];
  /** The ACL user and its password (every node has the same users); none for a server without ACLs. */
  username?: string | undefined;
  password?: string | undefined;
  /** Per-command timeout: long enough for a loaded node, short enough that a failover degrades reads to the DB fast. */
  commandTimeoutMs?: number;
  /** Where client errors are reported (a Nest `Logger` fits); they are never thrown. */
  logger?: { warn(message: string): void };
}

export function parseRedisNodes(nodes: string[]): Array<{ host: string; port: number }> {
  return nodes.map((node) => {
    const at = node.lastIndexOf(':');
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
}

/**
 * An ioredis Cluster tuned for keyflow. Reads and writes go to masters (replica reads could go backwards in
 * version). Auto-pipelining batches concurrent commands per node, which is where most throughput comes from.
 * During a master failover commands fail after `commandTimeoutMs` rather than queueing without bound; callers
 * treat that as a cache miss (reads) or retry (the worker's cache updates).
 */
export function createRedisCluster(options: RedisClusterOptions): Cluster {
  const clusterOptions: ClusterOptions = {
    scaleReads: 'master',
    enableAutoPipelining: true,
    enableReadyCheck: true,
    maxRedirections: 16,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2_000,
    slotsRefreshInterval: 5_000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
    redisOptions: {
      connectTimeout: 2_000,
      commandTimeout: options.commandTimeoutMs ?? 1_000,
      maxRetriesPerRequest: 2,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
    },
  };
  const cluster = new Cluster(parseRedisNodes(options.nodes), clusterOptions);
  // Errors never end the process: ioredis emits them on the cluster (with this listener) and on each node's
  // client (the cluster listens there and re-emits them as `node error`). A command caught by a failure
  // is retried by the cluster (redirections, failover delays) and then rejects; callers decide what that means.
  cluster.on('error', (err: Error) => options.logger?.warn(`redis: ${err.message}`));
  const lastLogged = new Map<string, number>();
  cluster.on('node error', (err: Error, node: string) => {
    // A node that stays down fails every reconnect attempt: one line per node and message per 10 s.
    const key = `${node} ${err.message}`;
    const now = Date.now();
    if (now - (lastLogged.get(key) ?? 0) < NODE_ERROR_LOG_INTERVAL_MS) return;
    lastLogged.set(key, now);
    options.logger?.warn(`redis node ${node}: ${err.message}`);
  });
  return cluster;
}

const NODE_ERROR_LOG_INTERVAL_MS = 10_000;
