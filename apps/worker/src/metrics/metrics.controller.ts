import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { WorkerMetrics } from './worker-metrics.service';

/** Prometheus scrape endpoint, on the worker's own port (never behind the gateway). */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: WorkerMetrics) {}

  @Get()
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    const body = await this.metrics.registry.metrics();
    void reply.type(this.metrics.registry.contentType).send(body);
  }
}
