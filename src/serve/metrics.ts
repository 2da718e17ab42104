/**
 * Prometheus metrics in the text exposition format (version 0.0.4), kept as plain counters so a request costs
 * a map lookup and a bucket scan. Routes are the app's fixed route names (unknown paths count as "other"), so
 * label cardinality stays bounded whatever clients send.
 *
 * A snapshot is plain JSON and snapshots add up: with --workers each worker keeps its own and the primary
 * merges them for whichever worker answers /metrics.
 */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface HistogramSnapshot {
  /** Non-cumulative counts per bucket, plus one for +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export interface MetricsSnapshot {
  /** [route, status, count] */
  requests: [string, number, number][];
  latency: Record<string, HistogramSnapshot>;
  rowsPredicted: number;
  /** Warnings attached to /predict/audio answers (damaged or degenerate audio). Absent in an older worker's snapshot. */
  audioWarnings?: number;
  modelSwaps: number;
  modelLoadFailures: number;
  /** 1 while the latest check of the model source failed (summed: workers failing). Absent in older snapshots. */
  modelRefreshFailing?: number;
  /** Log lines dropped because the log destination was slow or gone. Absent in older snapshots. */
  logLinesDropped?: number;
  inflight: number;
  /** Processes whose snapshots were added (1 for one process; a retired worker adds 0). Absent in older snapshots. */
  processes?: number;
}

export interface ModelInfoLabels {
  name: string;
  version: number | null;
  alias: string | null;
  runtime: string;
  specHash: string | null;
  loadedAt: Date;
}

export class ServeMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, HistogramSnapshot>();
  rowsPredicted = 0;
  audioWarnings = 0;
  modelSwaps = 0;
  modelLoadFailures = 0;
  modelRefreshFailing = 0;
  logLinesDropped = 0;
  inflight = 0;

  observe(route: string, status: number, seconds: number): void {
    const key = `${route} ${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let histogram = this.latency.get(route);
    if (histogram === undefined) {
      histogram = { counts: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      this.latency.set(route, histogram);
    }
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]) b++;
    histogram.counts[b]++;
    histogram.sum += seconds;
    histogram.count++;
  }

  snapshot(): MetricsSnapshot {
    const requests: [string, number, number][] = [];
    for (const [key, count] of this.requests) {
      const space = key.lastIndexOf(' ');
      requests.push([key.slice(0, space), Number(key.slice(space + 1)), count]);
    }
    const latency: Record<string, HistogramSnapshot> = {};
    for (const [route, h] of this.latency) latency[route] = { counts: [...h.counts], sum: h.sum, count: h.count };
    return {
      requests,
      latency,
      rowsPredicted: this.rowsPredicted,
      audioWarnings: this.audioWarnings,
      modelSwaps: this.modelSwaps,
      modelLoadFailures: this.modelLoadFailures,
      modelRefreshFailing: this.modelRefreshFailing,
      logLinesDropped: this.logLinesDropped,
      processes: 1,
      inflight: this.inflight,
    };
  }
}

/** A finished worker's counters, kept so merged counters never go down when a worker is replaced (gauges zeroed). */
export function retiredSnapshot(s: MetricsSnapshot): MetricsSnapshot {
  return { ...s, inflight: 0, modelRefreshFailing: 0, processes: 0 };
}

/** Adds snapshots (counters and histograms sum). */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const requests = new Map<string, [string, number, number]>();
  const latency: Record<string, HistogramSnapshot> = {};
  const total: MetricsSnapshot = { requests: [], latency, rowsPredicted: 0, audioWarnings: 0, modelSwaps: 0, modelLoadFailures: 0, modelRefreshFailing: 0, logLinesDropped: 0, inflight: 0, processes: 0 };
  for (const s of snapshots) {
    for (const [route, status, count] of s.requests) {
      const key = `${route} ${status}`;
      const entry = requests.get(key);
      if (entry) entry[2] += count;
      else requests.set(key, [route, status, count]);
    }
    for (const [route, h] of Object.entries(s.latency)) {
      const into = (latency[route] ??= { counts: new Array<number>(h.counts.length).fill(0), sum: 0, count: 0 });
      h.counts.forEach((c, i) => (into.counts[i] += c));
      into.sum += h.sum;
      into.count += h.count;
    }
    total.rowsPredicted += s.rowsPredicted;
    total.audioWarnings = (total.audioWarnings ?? 0) + (s.audioWarnings ?? 0);
    total.modelSwaps += s.modelSwaps;
    total.modelLoadFailures += s.modelLoadFailures;
    total.modelRefreshFailing = (total.modelRefreshFailing ?? 0) + (s.modelRefreshFailing ?? 0);
    total.logLinesDropped = (total.logLinesDropped ?? 0) + (s.logLinesDropped ?? 0);
    total.inflight += s.inflight;
    total.processes = (total.processes ?? 0) + (s.processes ?? 1);
  }
  total.requests = [...requests.values()];
  return total;
}

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function number(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** The exposition text: counters, the latency histogram and model/process gauges. */
export function renderMetrics(s: MetricsSnapshot, model: ModelInfoLabels | null, workers: number): string {
  const lines: string[] = [];
  lines.push('# HELP spotml_requests_total HTTP requests by route and status code.', '# TYPE spotml_requests_total counter');
  const sorted = [...s.requests].sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
  for (const [route, status, count] of sorted) lines.push(`spotml_requests_total{route="${label(route)}",status="${status}"} ${count}`);

  lines.push('# HELP spotml_request_duration_seconds Time from request start to response, by route.', '# TYPE spotml_request_duration_seconds histogram');
  for (const route of Object.keys(s.latency).sort()) {
    const h = s.latency[route];
    let cumulative = 0;
    LATENCY_BUCKETS.forEach((le, i) => {
      cumulative += h.counts[i];
      lines.push(`spotml_request_duration_seconds_bucket{route="${label(route)}",le="${le}"} ${cumulative}`);
    });
    lines.push(`spotml_request_duration_seconds_bucket{route="${label(route)}",le="+Inf"} ${h.count}`);
    lines.push(`spotml_request_duration_seconds_sum{route="${label(route)}"} ${number(h.sum)}`);
    lines.push(`spotml_request_duration_seconds_count{route="${label(route)}"} ${h.count}`);
  }

  lines.push('# HELP spotml_rows_predicted_total Rows (or audio segments) predicted.', '# TYPE spotml_rows_predicted_total counter');
  lines.push(`spotml_rows_predicted_total ${s.rowsPredicted}`);
  lines.push('# HELP spotml_audio_warnings_total Warnings attached to /predict/audio answers (damaged or degenerate audio).', '# TYPE spotml_audio_warnings_total counter');
  lines.push(`spotml_audio_warnings_total ${s.audioWarnings ?? 0}`);
  lines.push('# HELP spotml_model_swaps_total Hot swaps to another model version.', '# TYPE spotml_model_swaps_total counter');
  lines.push(`spotml_model_swaps_total ${s.modelSwaps}`);
  lines.push('# HELP spotml_model_load_failures_total Model versions that failed to load or self-check.', '# TYPE spotml_model_load_failures_total counter');
  lines.push(`spotml_model_load_failures_total ${s.modelLoadFailures}`);
  lines.push(
    '# HELP spotml_model_refresh_failing Processes whose latest check of the model source failed (registry unreachable or a new version refused); the loaded model keeps serving.',
    '# TYPE spotml_model_refresh_failing gauge',
  );
  lines.push(`spotml_model_refresh_failing ${s.modelRefreshFailing ?? 0}`);
  lines.push('# HELP spotml_log_lines_dropped_total Log lines dropped because the log destination was too slow or closed.', '# TYPE spotml_log_lines_dropped_total counter');
  lines.push(`spotml_log_lines_dropped_total ${s.logLinesDropped ?? 0}`);
  lines.push('# HELP spotml_requests_in_flight Requests being handled now.', '# TYPE spotml_requests_in_flight gauge');
  lines.push(`spotml_requests_in_flight ${s.inflight}`);
  lines.push('# HELP spotml_workers Server processes answering requests (that answered this scrape).', '# TYPE spotml_workers gauge');
  lines.push(`spotml_workers ${s.processes ?? workers}`);
  lines.push('# HELP spotml_workers_configured Server processes asked for (--workers).', '# TYPE spotml_workers_configured gauge');
  lines.push(`spotml_workers_configured ${workers}`);

  if (model) {
    lines.push('# HELP spotml_model_info The loaded model (value 1).', '# TYPE spotml_model_info gauge');
    lines.push(
      `spotml_model_info{name="${label(model.name)}",version="${model.version ?? ''}",alias="${label(model.alias ?? '')}",runtime="${label(model.runtime)}",spec_hash="${label(model.specHash ?? '')}"} 1`,
    );
    lines.push('# HELP spotml_model_version Registry version of the loaded model (0 for a package folder).', '# TYPE spotml_model_version gauge');
    lines.push(`spotml_model_version{name="${label(model.name)}"} ${model.version ?? 0}`);
    lines.push('# HELP spotml_model_loaded_timestamp_seconds When the loaded model was swapped in.', '# TYPE spotml_model_loaded_timestamp_seconds gauge');
    lines.push(`spotml_model_loaded_timestamp_seconds ${model.loadedAt.getTime() / 1000}`);
  }
  const memory = process.memoryUsage();
  lines.push('# HELP process_resident_memory_bytes Resident memory of the answering process.', '# TYPE process_resident_memory_bytes gauge');
  lines.push(`process_resident_memory_bytes ${memory.rss}`);
  lines.push('# HELP nodejs_heap_used_bytes V8 heap in use.', '# TYPE nodejs_heap_used_bytes gauge');
  lines.push(`nodejs_heap_used_bytes ${memory.heapUsed}`);
  return `${lines.join('\n')}\n`;
}
