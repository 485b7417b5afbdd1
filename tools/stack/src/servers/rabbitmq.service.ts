import { isAlive, type StackLaunchSpec, type StackProcess } from '@keyflow/testing';
import { RABBITMQ_PROMETHEUS_PORT, type Topology } from '@keyflow/topology';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { StackError } from '../stack.exception';
import { type Credential, requireSecrets, type StackSecrets } from '../secrets.util';
import { inheritedEnv, readLaunchSpec, writeLaunchSpec } from '../stack-file.util';
import { logFile, type StackLayout } from '../stack-layout.util';
import { tail } from '../util/log.util';
import { run, type RunResult, terminate, waitForExit } from '../util/process.util';
import { canConnect, httpJson, waitUntil } from '../util/wait.util';

/** The real scripts: the /usr/sbin wrappers switch to the rabbitmq user, its HOME and its Erlang cookie. */
export const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';
const EPMD_CANDIDATES = ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd'];

type RabbitNode = Topology['rabbitmq']['nodes'][number];

export function rabbitmqNodeName(node: Pick<RabbitNode, 'name'>): string {
  return `${node.name}@localhost`;
}

export function rabbitmqProcessName(node: Pick<RabbitNode, 'name'>): string {
  return `rabbitmq-${node.name}`;
}

/**
 * Peer discovery from a fixed list: fresh nodes started together form one cluster without a join step. A fresh
 * node's first user is the stack's administrator, not guest/guest (`ensure` makes the apps' user and vhost and
 * deletes a guest that an older stack's data still has).
 */
export function rabbitmqConfig(
  node: RabbitNode,
  topology: Pick<Topology, 'rabbitmq' | 'monitoring'>,
  secrets: StackSecrets['rabbitmq'],
): string {
  return [
    `listeners.tcp.1 = ${node.host}:${node.port}`,
    `default_user = ${secrets.admin.username}`,
    `default_pass = ${secrets.admin.password}`,
    'default_user_tags.administrator = true',
    `management.tcp.ip = ${node.host}`,
    `management.tcp.port = ${node.managementPort}`,
    // rabbitmq_prometheus (enabled with monitoring) on the node's own port; it would bind 0.0.0.0:15692 otherwise.
    ...(topology.monitoring?.prometheus
      ? [`prometheus.tcp.ip = ${node.host}`, `prometheus.tcp.port = ${node.prometheusPort ?? RABBITMQ_PROMETHEUS_PORT}`]
      : []),
    'cluster_formation.peer_discovery_backend = classic_config',
    ...topology.rabbitmq.nodes.map(
      (n, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${rabbitmqNodeName(n)}`,
    ),
    // The shard queues' leaders spread over the nodes; by default each lands on the node the declaring client
    // happens to be connected to (measured: 12 of 16 on one node).
    'queue_leader_locator = balanced',
    'log.console = false',
    'log.file.level = info',
    'log.file.rotation.size = 10485760',
    'log.file.rotation.count = 5',
    '',
  ].join('\n');
}

/**
 * The environment of one node and of every rabbitmqctl call for it. All nodes share HOME (one Erlang cookie)
 * and a private epmd; the dist port is explicit (the default, AMQP port + 20000, collides), and the CLI's own
 * dist port range is moved next to it so it never meets the system RabbitMQ's CLI range (35672+).
 */
export function rabbitmqEnv(
  node: RabbitNode,
  topology: Pick<Topology, 'rabbitmq'>,
  layout: StackLayout,
): Record<string, string> {
  const name = rabbitmqProcessName(node);
  return {
    ...inheritedEnv(),
    HOME: join(layout.data, 'rabbitmq'),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    ERL_EPMD_PORT: String(topology.rabbitmq.epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_NODENAME: rabbitmqNodeName(node),
    RABBITMQ_NODE_IP_ADDRESS: node.host,
    RABBITMQ_NODE_PORT: String(node.port),
    RABBITMQ_DIST_PORT: String(node.distPort),
    RABBITMQ_CTL_DIST_PORT_MIN: String(node.distPort + 10000),
    RABBITMQ_CTL_DIST_PORT_MAX: String(node.distPort + 10010),
    RABBITMQ_CONFIG_FILE: join(layout.conf, `${name}.conf`),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(layout.conf, `${name}-advanced.config`),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(layout.conf, 'rabbitmq-enabled-plugins'),
    RABBITMQ_CONF_ENV_FILE: join(layout.conf, 'rabbitmq-env.conf'),
    RABBITMQ_MNESIA_BASE: join(layout.data, 'rabbitmq', 'mnesia'),
    RABBITMQ_LOG_BASE: join(layout.logs, name),
    RABBITMQ_PID_FILE: join(layout.run, `${name}.pid`),
    // Exec the VM directly (the launched pid is the broker's) without an Erlang shell on stdin.
    RABBITMQ_ALLOW_INPUT: '1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-noinput -kernel inet_dist_use_interface {127,0,0,1}',
  };
}

interface ClusterStatus {
  running_nodes?: string[];
}

/** A RabbitMQ cluster of `rabbitmq.nodes`, with its own epmd, management plugin on each node. */
export class RabbitmqService implements StackComponent {
  constructor(private readonly layout: StackLayout) {}

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    const nodes = topology.rabbitmq.nodes;
    const home = join(layout.data, 'rabbitmq');
    mkdirSync(join(home, 'mnesia'), { recursive: true });
    // The cluster's nodes authenticate each other with this cookie: made once, kept with the data.
    const cookie = join(home, '.erlang.cookie');
    if (!existsSync(cookie)) writeFileSync(cookie, randomBytes(24).toString('hex').toUpperCase(), { mode: 0o400 });
    const plugins = ['rabbitmq_management', ...(topology.monitoring?.prometheus ? ['rabbitmq_prometheus'] : [])];
    writeFileSync(join(layout.conf, 'rabbitmq-enabled-plugins'), `[${plugins.join(',')}].\n`);
    writeFileSync(join(layout.conf, 'rabbitmq-env.conf'), '# empty: keeps /etc/rabbitmq/rabbitmq-env.conf out\n');

    // Our own epmd, started first so the nodes find it instead of daemonising one we could not track.
    const epmd = EPMD_CANDIDATES.find((p) => existsSync(p)) ?? 'epmd';
    const epmdPort = topology.rabbitmq.epmdPort;
    const programs: SupervisedProcess[] = [
      {
        spec: {
          name: 'epmd',
          group: 'epmd',
          command: epmd,
          args: ['-port', String(epmdPort), '-address', '127.0.0.1'],
          cwd: home,
          priority: 50,
          startSecs: 1,
          startRetries: 5,
          stopWaitSecs: 5,
        },
        proc: { name: 'epmd', kind: 'epmd', host: '127.0.0.1', port: epmdPort },
      },
    ];
    for (const node of nodes) {
      const name = rabbitmqProcessName(node);
      mkdirSync(join(layout.logs, name), { recursive: true });
      // It holds the administrator's first password: readable by its owner only.
      const conf = join(layout.conf, `${name}.conf`);
      writeFileSync(conf, rabbitmqConfig(node, topology, requireSecrets(layout).rabbitmq), { mode: 0o600 });
      const spec: StackLaunchSpec = {
        name,
        command: join(RABBITMQ_BIN, 'rabbitmq-server'),
        args: [],
        env: rabbitmqEnv(node, topology, layout),
        cwd: home,
        logFile: logFile(layout, name),
      };
      // rabbitmqctl needs the node's environment (cookie, epmd, dist ports): `ctl` reads it from here.
      writeLaunchSpec(layout, spec);
      programs.push({
        spec: {
          name,
          group: 'rabbitmq',
          command: spec.command,
          args: [],
          env: spec.env,
          cwd: home,
          priority: 100,
          startSecs: 5,
          startRetries: 5,
          // RabbitMQ 3.8+ shuts down cleanly on SIGTERM; a quorum queue leader hands over first.
          stopWaitSecs: 60,
        },
        proc: {
          name,
          kind: 'rabbitmq',
          host: node.host,
          port: node.port,
          node: rabbitmqNodeName(node),
          managementPort: node.managementPort,
        },
      });
    }
    return programs;
  }

  /**
   * epmd, then every node at once: fresh nodes form a cluster by classic peer discovery; nodes with data rejoin
   * the cluster their mnesia directory remembers, with their quorum queues and the messages still in them.
   */
  async ensure({ topology, layout, progress, supervisor }: StartContext): Promise<void> {
    const nodes = topology.rabbitmq.nodes;
    const epmdPort = topology.rabbitmq.epmdPort;
    await supervisor.startGroup('epmd');
    await waitUntil(() => canConnect('127.0.0.1', epmdPort), { timeoutMs: 10_000, what: `epmd on port ${epmdPort}` });
    await supervisor.startGroup('rabbitmq');
    progress.line('rabbitmq', `${nodes.length} nodes running (epmd on ${epmdPort})`);

    // Polling the management API is cheap; every rabbitmqctl call boots an Erlang VM (seconds on two busy cores).
    const expected = nodes.map(rabbitmqNodeName).sort();
    await Promise.all(nodes.map((node) => this.waitForNode(node, expected, layout, supervisor)));
    progress.line('rabbitmq', `${nodes.length} nodes booted, each sees ${nodes.length} running`);

    const first = nodes[0];
    if (!first) throw new StackError('rabbitmq.nodes is empty');
    const running = (await this.clusterStatus(first)).running_nodes ?? [];
    if (!expected.every((n) => running.includes(n))) {
      throw new StackError(
        `rabbitmqctl cluster_status lists ${running.join(', ') || 'no node'} as running, expected ${expected.join(', ')}`,
      );
    }
    progress.line('rabbitmq', `${nodes.length} nodes clustered (${running.sort().join(', ')})`);
    await this.ensureUsers(first);
    const { app, vhost, admin } = requireSecrets(layout).rabbitmq;
    progress.line(
      'rabbitmq',
      `users: ${admin.username} (administrator), ${app.username} (vhost ${vhost} only); no guest`,
    );
  }

  /**
   * The apps' vhost and user, the administrator's password (both set on every start, so an edited secrets file
   * takes effect), and no guest. Users are cluster-wide: one node's management API does it for all.
   */
  private async ensureUsers(node: RabbitNode): Promise<void> {
    const { app, vhost, admin } = requireSecrets(this.layout).rabbitmq;
    const login = await this.managementLogin(node);
    const call = async (method: string, path: string, body?: unknown): Promise<number> => {
      const res = await fetch(`http://${node.host}:${node.managementPort}/api${path}`, {
        method,
        headers: { authorization: basicAuth(login), 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (!res.ok && res.status !== 404)
        throw new StackError(`RabbitMQ management ${method} ${path}: ${res.status}`, text);
      return res.status;
    };
    const all = { configure: '.*', write: '.*', read: '.*' };
    const v = encodeURIComponent(vhost);
    await call('PUT', `/vhosts/${v}`, { description: "keyflow's queues and streams" });
    await call('PUT', `/users/${encodeURIComponent(admin.username)}`, {
      password: admin.password,
      tags: 'administrator',
    });
    await call('PUT', `/permissions/${v}/${encodeURIComponent(admin.username)}`, all);
    await call('PUT', `/users/${encodeURIComponent(app.username)}`, { password: app.password, tags: '' });
    await call('PUT', `/permissions/${v}/${encodeURIComponent(app.username)}`, all);
    if (login.username !== admin.username || (await call('GET', '/users/guest')) !== 404) {
      await call('DELETE', '/users/guest');
    }
  }

  /**
   * The administrator, or guest on a node whose data comes from a stack older than its secrets file (once: the
   * first `up` with secrets makes the administrator and deletes guest).
   */
  private async managementLogin(node: Pick<RabbitNode, 'host' | 'managementPort'>): Promise<Credential> {
    const admin = requireSecrets(this.layout).rabbitmq.admin;
    const res = await fetch(`http://${node.host}:${node.managementPort}/api/whoami`, {
      headers: { authorization: basicAuth(admin) },
      signal: AbortSignal.timeout(5_000),
    });
    await res.body?.cancel();
    return res.status === 401 ? { username: 'guest', password: 'guest' } : admin;
  }

  async stop(proc: StackProcess): Promise<string> {
    if (!isAlive(proc.pid)) return 'not running';
    if (proc.kind === 'rabbitmq' && proc.node) {
      const res = await this.ctl(proc.name, ['-n', proc.node, 'stop']).catch(() => undefined);
      if (res?.code === 0 && (await waitForExit(proc.pid, 15_000))) return 'stopped';
    }
    return terminate(proc.pid);
  }

  async health(proc: StackProcess): Promise<Health> {
    if (proc.kind === 'epmd') {
      const ok = isAlive(proc.pid) && (await canConnect(proc.host ?? '127.0.0.1', proc.port ?? 0));
      return { healthy: ok, detail: ok ? `listening on ${proc.port}` : 'not listening' };
    }
    try {
      const nodes = await this.managementNodes({
        host: proc.host ?? '127.0.0.1',
        managementPort: proc.managementPort ?? 0,
      });
      const self = nodes.find((n) => n.name === proc.node);
      const running = nodes.filter((n) => n.running).length;
      return {
        healthy: self?.running === true,
        detail: self?.running ? `running, ${running}/${nodes.length} cluster nodes running` : 'node not running',
      };
    } catch (err) {
      return { healthy: false, detail: `management API: ${(err as Error).message}` };
    }
  }

  /** rabbitmqctl with the node's own environment (cookie, epmd, CLI dist ports), read from its launch file. */
  private ctl(processName: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
    const spec = readLaunchSpec(this.layout, processName);
    return run(join(RABBITMQ_BIN, 'rabbitmqctl'), args, { env: spec.env, timeoutMs, check: false });
  }

  /** Until the node's management API lists every expected node as running; fails at once if the supervisor gives up. */
  private async waitForNode(
    node: RabbitNode,
    expected: string[],
    layout: StackLayout,
    supervisor: StartContext['supervisor'],
  ): Promise<void> {
    const name = rabbitmqProcessName(node);
    await waitUntil(
      async () => {
        const state = (await supervisor.status()).find((p) => p.name === name)?.state;
        if (state === 'FATAL') {
          throw new StackError(
            `rabbitmq node ${rabbitmqNodeName(node)} keeps exiting; the supervisor gave up`,
            tail(logFile(layout, name)),
            `see also ${join(layout.logs, name)}/`,
          );
        }
        const seen = await this.managementNodes(node).catch(() => []);
        return expected.every((n) => seen.some((s) => s.name === n && s.running));
      },
      {
        timeoutMs: 180_000,
        intervalMs: 1_000,
        what: `${rabbitmqNodeName(node)} to run in a cluster of ${expected.length}`,
      },
    );
  }

  private async clusterStatus(node: RabbitNode): Promise<ClusterStatus> {
    const res = await this.ctl(rabbitmqProcessName(node), [
      '-n',
      rabbitmqNodeName(node),
      'cluster_status',
      '--formatter',
      'json',
    ]);
    if (res.code !== 0) throw new Error(`cluster_status: exit ${res.code}: ${res.stderr.trim()}`);
    return JSON.parse(res.stdout) as ClusterStatus;
  }

  private async managementNodes(
    node: Pick<RabbitNode, 'host' | 'managementPort'>,
  ): Promise<{ name: string; running: boolean }[]> {
    const login = await this.managementLogin(node);
    return httpJson(`http://${node.host}:${node.managementPort}/api/nodes?columns=name,running`, {
      auth: { user: login.username, password: login.password },
      timeoutMs: 5_000,
    });
  }
}

function basicAuth(c: Credential): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
