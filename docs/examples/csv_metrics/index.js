// Example plugin from docs/plugins.md (plain JavaScript, ESM). The test suite loads it by path and runs it.
// A metrics collector that writes every metric as a CSV row to `path` (inside the run folder).
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Err, LoggingPlugin, MetricsCollector, Ok } from 'dumbo';

class CsvCollector extends MetricsCollector {
  constructor(file) {
    super();
    this.file = file;
    writeFileSync(file, 'step,name,value,timestamp\n');
  }
  logMetric(event) {
    appendFileSync(this.file, `${event.step},${event.name},${event.value},${event.timestamp}\n`);
  }
}

export class CsvMetrics extends LoggingPlugin {
  static configKey = 'csv_metrics';
  static provides = ['metrics_collector'];
  static configSchema = {
    type: 'object',
    properties: { path: { type: 'string', default: 'metrics.csv' } },
    additionalProperties: false,
  };

  // The plugin context comes last: the run folder is where the run's files go.
  initialize(config, ctx) {
    try {
      this.collector = new CsvCollector(join(ctx.runFolder ?? ctx.configDir, config.path));
      return Ok(undefined);
    } catch (error) {
      return Err(error);
    }
  }

  getMetricsCollector() {
    return this.collector ? Ok(this.collector) : Err(new Error('csv_metrics was not initialized'));
  }
}

export const AVAILABLE_PLUGINS = [CsvMetrics];
