import { z } from 'zod';

/**
 * The one typed description of a keyflow deployment. Every gateway, load-balancer and process
 * config is rendered from it (apps/gateway-config) and the local stack starts from it (tools/stack).
 */

const host = z.string().min(1, 'must be a host name or an IP address');
const port = z.number({ invalid_type_error: 'must be a port number' }).int().min(1).max(65535);
const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes, starting with a letter');

export const endpointSchema = z.object({ name, host, port }).strict();

export const lbAlgorithmSchema = z.enum(['roundrobin', 'leastconn', 'source']);

export const topologySchema = z
  .object({
    name,
    /** Where a local stack keeps its data, logs and pids; relative paths are relative to the repository root. */
    stackDir: z.string().min(1).default('.keyflow'),
    gateway: z
      .object({
        algorithm: lbAlgorithmSchema.default('leastconn'),
        /** Largest request body nginx accepts; the API enforces the 1 MiB value limit itself. */
        clientMaxBodySize: z
          .string()
          .regex(/^\d+[km]?$/i)
          .default('2m'),
        /** Buffered access log under the run dir; turn off for load tests where every syscall counts. */
        accessLog: z.boolean().default(true),
        instances: z.array(endpointSchema).min(1),
      })
      .strict(),
    api: z
      .object({
        instances: z.array(endpointSchema).min(1),
      })
      .strict(),
    worker: z
      .object({
        /** Fixed number of shard queues keys hash to. Changing it on a live system reorders keys. */
        shards: z.number().int().min(1).max(1024).default(16),
        /** Each worker serves health and metrics on its own port. */
        instances: z.array(endpointSchema).min(1),
      })
      .strict(),
    redis: z
      .object({
        nodeTimeoutMs: z.number().int().min(100).default(2000),
        replicasPerMaster: z.number().int().min(0).default(1),
        nodes: z.array(z.object({ host, port }).strict()).min(3),
      })
      .strict(),
    rabbitmq: z
      .object({
        /** A private epmd port so the stack never shares the system RabbitMQ's epmd. */
        epmdPort: port.default(4370),
        nodes: z.array(z.object({ name, host, port, managementPort: port, distPort: port }).strict()).min(1),
      })
      .strict(),
    database: z
      .object({
        kind: z.enum(['postgres', 'cockroach']),
        name: z
          .string()
          .regex(/^[a-z_][a-z0-9_]*$/)
          .default('keyflow'),
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_]*$/)
          .default('keyflow'),
        nodes: z
          .array(
            z
              .object({
                name,
                host,
                port,
                role: z.enum(['primary', 'replica', 'node']),
                /** CockroachDB's HTTP port, where HAProxy checks `/health?ready=1`; unused for postgres. */
                httpPort: port.default(8080),
              })
              .strict(),
          )
          .min(1),
      })
      .strict(),
    haproxy: z
      .object({
        host,
        dbWritePort: port,
        dbReadPort: port,
        amqpPort: port,
        statsPort: port,
      })
      .strict(),
  })
  .strict();

export type Topology = z.infer<typeof topologySchema>;
export type TopologyInput = z.input<typeof topologySchema>;
export type Endpoint = z.infer<typeof endpointSchema>;
export type LbAlgorithm = z.infer<typeof lbAlgorithmSchema>;
