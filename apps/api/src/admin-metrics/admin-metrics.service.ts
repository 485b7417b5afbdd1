import { Inject, Injectable } from '@nestjs/common';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { METRICS_PANELS, type MetricsPanelDefinition, type MetricsWindow } from './admin-metrics.constant';
import { MetricsUnavailableError } from './admin-metrics.exception';
import { matrixOf, type MetricsRange, metricsRange, type MetricsSeries, panelSeries } from './admin-metrics.util';

/** Each `query_range` call may take this long; the panels are asked in parallel. */
const QUERY_TIMEOUT_MS = 3_000;

export interface MetricsPanels {
  window: MetricsWindow;
  start: string;
  end: string;
  stepSeconds: number;
  panels: Array<Omit<MetricsPanelDefinition, 'query' | 'seriesLabel' | 'series'> & { series: MetricsSeries[] }>;
}

/**
 * The console's charts: the fixed panels of `METRICS_PANELS`, each from one Prometheus `query_range` over the chosen
 * window. Prometheus is optional (PROMETHEUS_URL): without it, or when it does not answer, this throws
 * `MetricsUnavailableError`, and the rest of the API is unaffected.
 */
@Injectable()
export class AdminMetricsService {
  private readonly prometheus: string | undefined;

  constructor(@Inject(API_CONFIG) config: ApiConfig) {
    this.prometheus = config.PROMETHEUS_URL?.replace(/\/+$/, '');
  }

  async panels(window: MetricsWindow, nowMs = Date.now()): Promise<MetricsPanels> {
    const prometheus = this.prometheus;
    if (!prometheus) {
      throw new MetricsUnavailableError(
        'not-configured',
        'metrics not configured: this API was given no PROMETHEUS_URL',
      );
    }
    const range = metricsRange(window, nowMs);
    const panels = await Promise.all(
      METRICS_PANELS.map(async (panel) => ({
        name: panel.name,
        title: panel.title,
        unit: panel.unit,
        description: panel.description,
        series: panelSeries(panel, await this.queryRange(prometheus, panel.query(range.rateWindow), range)),
      })),
    );
    return {
      window,
      start: new Date(range.start * 1000).toISOString(),
      end: new Date(range.end * 1000).toISOString(),
      stepSeconds: range.stepSeconds,
      panels,
    };
  }

  private async queryRange(prometheus: string, query: string, range: MetricsRange) {
    const params = new URLSearchParams({
      query,
      start: String(range.start),
      end: String(range.end),
      step: `${range.stepSeconds}s`,
    });
    let res: Response;
    try {
      res = await fetch(`${prometheus}/api/v1/query_range`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: params.toString(),
        signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
      });
    } catch (err) {
      throw new MetricsUnavailableError('unavailable', `Prometheus did not answer: ${messageOf(err)}`);
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const error = (body as { error?: unknown } | undefined)?.error;
      throw new MetricsUnavailableError(
        'unavailable',
        `Prometheus answered ${res.status}${typeof error === 'string' ? `: ${error}` : ''}`,
      );
    }
    try {
      return matrixOf(body);
    } catch (err) {
      throw new MetricsUnavailableError('unavailable', messageOf(err));
    }
  }
}

function messageOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const message = err instanceof Error ? err.message : String(err);
  return cause instanceof Error ? `${message} (${cause.message})` : message;
}
