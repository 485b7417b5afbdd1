import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import {
  METRICS_PANEL_NAMES,
  METRICS_UNITS,
  METRICS_WINDOWS,
  type MetricsPanelName,
  type MetricsUnit,
  type MetricsWindow,
} from '../admin-metrics.constant';

export class MetricsQueryDto {
  @ApiPropertyOptional({ enum: METRICS_WINDOWS, default: '15m', description: 'How far back the series go.' })
  @IsOptional()
  @IsIn(METRICS_WINDOWS)
  window?: MetricsWindow;
}

export class MetricsPointDto {
  @ApiProperty({ example: 1_764_619_200, description: 'Unix time, in seconds.' })
  t!: number;

  @ApiProperty({ example: 12.5, description: 'The value, in the panel’s unit.' })
  v!: number;
}

export class MetricsSeriesDto {
  @ApiProperty({ example: 'api-1', description: 'What the series is of: an instance, a job, a queue group.' })
  label!: string;

  @ApiProperty({
    type: [MetricsPointDto],
    description: 'Oldest first; steps where the value is undefined are left out.',
  })
  points!: MetricsPointDto[];
}

export class MetricsPanelDto {
  @ApiProperty({ enum: METRICS_PANEL_NAMES, example: 'requestRate' })
  name!: MetricsPanelName;

  @ApiProperty({ example: 'Request rate per API instance' })
  title!: string;

  @ApiProperty({ enum: METRICS_UNITS, example: 'req/s' })
  unit!: MetricsUnit;

  @ApiProperty({ example: 'HTTP requests each API instance answered, per second.' })
  description!: string;

  @ApiProperty({ type: [MetricsSeriesDto], description: 'Sorted by label; empty when Prometheus has no such series.' })
  series!: MetricsSeriesDto[];
}

export class MetricsResponseDto {
  @ApiProperty({ enum: METRICS_WINDOWS, example: '15m' })
  window!: MetricsWindow;

  @ApiProperty({ format: 'date-time', description: 'The first step of the window.' })
  start!: string;

  @ApiProperty({ format: 'date-time', description: 'The last step of the window (now, rounded down to the step).' })
  end!: string;

  @ApiProperty({ example: 15, description: 'Seconds between two points.' })
  stepSeconds!: number;

  @ApiProperty({ type: [MetricsPanelDto], description: 'Always the same panels, in the same order.' })
  panels!: MetricsPanelDto[];
}
