/**
 * The report really renders: headless Chromium (Debian's `chromium` package) opens report.html from disk,
 * the page's inline script marks every plot image once decoded, and the DOM Chromium dumps must show every
 * plot loaded and every number in the tables equal to metrics.json. Without Chromium this test FAILS (CI
 * installs it); it is never skipped.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMatrix } from '../../src/data/matrix.js';
import { Rng } from '../../src/learners/rng.js';
import { evaluateGate, parseGate } from '../../src/metrics/gate.js';
import { permutationImportance } from '../../src/metrics/importance.js';
import { computeReportMetrics, reportMetric } from '../../src/metrics/report-metrics.js';
import { compareModels, metricIntervals } from '../../src/metrics/stats.js';
import { formatMetricValue, writeReport, type ReportDocument } from '../../src/report/html.js';
import { renderPlots } from '../../src/report/plots.js';

const CHROMIUM = process.env.SPOTML_CHROMIUM ?? '/usr/bin/chromium';
const MISSING = `headless Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install chromium fonts-dejavu-core), or set SPOTML_CHROMIUM`;

function dumpDom(htmlPath: string, profileDir: string): Promise<string> {
  if (!existsSync(CHROMIUM)) return Promise.reject(new Error(MISSING));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profileDir}`,
    '--virtual-time-budget=5000',
    '--dump-dom',
    pathToFileURL(htmlPath).href,
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: 45_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`chromium failed on ${htmlPath}: ${err.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

const attr = (tag: string, name: string): string | undefined => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
const tags = (dom: string, pattern: RegExp): string[] => [...dom.matchAll(pattern)].map((m) => m[0]);

function classificationDoc(): Promise<ReportDocument> {
  const rng = new Rng(31);
  const k = 3;
  const n = 240;
  const labels = ['brass', 'piano', 'strings'];
  // Three features: the class shifts feature 0 strongly and feature 1 weakly; feature 2 is noise.
  const X = createMatrix(n, 3);
  const yTrue = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(k);
    yTrue[i] = c;
    X.data[i * 3] = c * 2 + rng.normal();
    X.data[i * 3 + 1] = c * 0.5 + rng.normal();
    X.data[i * 3 + 2] = rng.normal();
  }
  const probaOf = (m: typeof X): Float64Array => {
    const out = new Float64Array(m.rows * k);
    for (let i = 0; i < m.rows; i++) {
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const d = (m.data[i * 3] - c * 2) ** 2 + (m.data[i * 3 + 1] - c * 0.5) ** 2;
        sum += out[i * k + c] = Math.exp(-0.5 * d);
      }
      for (let c = 0; c < k; c++) out[i * k + c] /= sum;
    }
    return out;
  };
  const predictOf = (m: typeof X): Float64Array => {
    const p = probaOf(m);
    return Float64Array.from({ length: m.rows }, (_, i) => [0, 1, 2].reduce((best, c) => (p[i * k + c] > p[i * k + best] ? c : best), 0));
  };
  const proba = probaOf(X);
  const yPred = predictOf(X);
  const input = { task: 'classification' as const, yTrue, yPred, proba, labels };
  const evaluation = computeReportMetrics(input);
  const accuracy = reportMetric('accuracy');
  const importance = permutationImportance({
    predict: predictOf,
    X,
    y: yTrue,
    score: (t, p) => accuracy?.compute(t, p, undefined, k) ?? Number.NaN,
    greaterIsBetter: true,
    nRepeats: 3,
    seed: 1,
    featureNames: ['centroid', 'rolloff', 'noise'],
  });
  // A clearly worse baseline: right only on every third row.
  const baseline = yTrue.map((y, i) => (i % 3 === 0 ? y : (y + 1) % k));
  return renderPlots(evaluation, importance, 1).then((plots) => ({
    title: 'Chromium check: classification',
    model: { family: 'gaussian-centroid' },
    data: { rows: n },
    evaluation,
    intervals: metricIntervals(input, ['accuracy', 'f1_macro', 'roc_auc'], { seed: 2, nResamples: 300 }),
    gate: evaluateGate(parseGate('accuracy=0.5,log_loss=0.01'), evaluation.metrics),
    comparison: compareModels('classification', yTrue, yPred, baseline),
    importance,
    plots,
  }));
}

async function regressionDoc(): Promise<ReportDocument> {
  const rng = new Rng(32);
  const yTrue = Float64Array.from({ length: 150 }, () => rng.normal() * 4 + 20);
  const yPred = yTrue.map((v) => v + rng.normal());
  const input = { task: 'regression' as const, yTrue, yPred };
  const evaluation = computeReportMetrics(input);
  return {
    title: 'Chromium check: regression',
    model: { family: 'linear' },
    data: { rows: yTrue.length },
    evaluation,
    intervals: metricIntervals(input, ['r2', 'rmse'], { seed: 3, nResamples: 300 }),
    gate: evaluateGate(parseGate('r2=0.5,rmse=2'), evaluation.metrics),
    plots: await renderPlots(evaluation, undefined, 1),
  };
}

interface Loaded {
  dom: string;
  json: {
    metrics: Record<string, number | null>;
    intervals: Record<string, { lower: number | null; upper: number | null }>;
    perClass?: { label: string; precision: number; recall: number; f1: number; support: number }[];
    gate: { passed: boolean } | null;
    comparison: { decision: string } | null;
    plots: string[];
  };
  plotWidths: Record<string, number>;
}

describe('HTML report in headless Chromium', () => {
  const root = mkdtempSync(join(tmpdir(), 'spotml-chromium-'));
  const loaded: Record<string, Loaded> = {};
  let setupError: unknown = null;

  beforeAll(async () => {
    try {
      const docs = { classification: await classificationDoc(), regression: await regressionDoc() };
      await Promise.all(
        Object.entries(docs).map(async ([name, doc]) => {
          const written = await writeReport(join(root, name), doc);
          const dom = await dumpDom(written.html, join(root, `profile-${name}`));
          loaded[name] = {
            dom,
            json: JSON.parse(readFileSync(written.json, 'utf8')) as Loaded['json'],
            plotWidths: Object.fromEntries(doc.plots.map((p) => [p.id, p.width])),
          };
        }),
      );
    } catch (err) {
      // Reported by every test below, so a missing browser fails loudly instead of skipping.
      setupError = err;
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const get = (name: string): Loaded => {
    if (setupError) throw setupError;
    return loaded[name];
  };

  it.each(['classification', 'regression'])('%s: every plot image decoded in the browser', (name) => {
    const { dom, json, plotWidths } = get(name);
    expect(dom).toMatch(/<body[^>]*data-plots-settled="true"/);
    const imgs = tags(dom, /<img\b[^>]*>/g);
    expect(imgs.map((t) => attr(t, 'data-plot-img'))).toEqual(json.plots);
    expect(json.plots.length).toBe(name === 'classification' ? 6 : 2);
    for (const img of imgs) {
      const id = attr(img, 'data-plot-img') ?? '';
      expect(attr(img, 'data-loaded'), id).toBe('true');
      expect(Number(attr(img, 'data-natural-width')), id).toBe(Math.round(plotWidths[id]));
    }
  });

  it.each(['classification', 'regression'])('%s: the metric table equals metrics.json', (name) => {
    const { dom, json } = get(name);
    const cells = [...dom.matchAll(/<td[^>]*data-metric="([a-z_0-9]+)"[^>]*>([^<]*)<\/td>/g)];
    expect(cells.map((c) => c[1]).sort()).toEqual(Object.keys(json.metrics).sort());
    for (const [tag, metric, text] of cells) {
      expect(text, metric).toBe(formatMetricValue(json.metrics[metric]));
      const exact = json.metrics[metric];
      if (exact !== null) expect(Number(attr(tag, 'data-value')), metric).toBe(exact);
    }
    const intervalNames = Object.keys(json.intervals);
    expect(intervalNames.length).toBeGreaterThan(0);
    for (const metric of intervalNames) {
      expect(new RegExp(`data-ci-lower="${metric}">([^<]*)<`).exec(dom)?.[1]).toBe(formatMetricValue(json.intervals[metric].lower));
      expect(new RegExp(`data-ci-upper="${metric}">([^<]*)<`).exec(dom)?.[1]).toBe(formatMetricValue(json.intervals[metric].upper));
    }
    expect(attr(tags(dom, /<div id="gate"[^>]*>/g)[0] ?? '', 'data-passed')).toBe(String(json.gate?.passed));
  });

  it('classification: per-class rows, gate failure and comparison decision equal metrics.json', () => {
    const { dom, json } = get('classification');
    for (const row of json.perClass ?? []) {
      const tr = new RegExp(`<tr data-class="${row.label}">(.*?)</tr>`).exec(dom)?.[1] ?? '';
      for (const field of ['precision', 'recall', 'f1'] as const) {
        expect(new RegExp(`data-field="${field}"[^>]*>([^<]*)<`).exec(tr)?.[1]).toBe(formatMetricValue(row[field]));
      }
      expect(new RegExp(`data-field="support"[^>]*>([^<]*)<`).exec(tr)?.[1]).toBe(String(row.support));
    }
    expect(json.gate?.passed).toBe(false);
    expect(dom).toContain('data-gate-metric="log_loss" data-passed="false"');
    expect(json.comparison?.decision).toBe('better');
    expect(attr(tags(dom, /<div id="comparison"[^>]*>/g)[0] ?? '', 'data-decision')).toBe('better');
  });
});
