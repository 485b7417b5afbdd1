import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Access } from '../auth/access.decorator';
import { MetricsService } from './metrics.service';

/** Prometheus scrape endpoint; internal only (the gateway does not route /metrics). */
@ApiExcludeController()
@Access('public')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    const body = await this.metrics.registry.metrics();
    void reply.type(this.metrics.registry.contentType).send(body);
  }
}
