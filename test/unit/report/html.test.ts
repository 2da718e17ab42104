/**
 * The HTML report as text: every metric cell shows the evaluation's value (and carries it exactly), labels are
 * escaped, plots are embedded (the data URI decodes back to the SVG), nothing is fetched from outside, and
 * writeReport leaves report.html, metrics.json and the plot files on disk.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/learners/rng.js';
import { evaluateGate, parseGate } from '../../../src/metrics/gate.js';
import { computeReportMetrics } from '../../../src/metrics/report-metrics.js';
import { compareModels, metricIntervals } from '../../../src/metrics/stats.js';
import { esc, formatMetricValue, renderHtmlReport, reportSummary, writeReport, type ReportDocument } from '../../../src/report/html.js';
import type { RenderedPlot } from '../../../src/report/plots.js';

const TINY_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#0072B2"/></svg>';
// A 1×1 PNG is enough for the file-writing path; the browser test renders real plots.
const TINY_PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));

function plot(id: string): RenderedPlot {
  return { id, title: `Plot ${id}`, caption: `Caption of ${id}.`, svg: TINY_SVG, png: TINY_PNG, width: 40, height: 30 };
}

function doc(): ReportDocument {
  const rng = new Rng(8);
  const n = 120;
  const labels = ['<b>brass</b>', 'guitar & co', 'piano "grand"'];
  const yTrue = Float64Array.from({ length: n }, () => rng.int(3));
  const proba = new Float64Array(n * 3);
  const yPred = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const hit = rng.next() < 0.8;
    const c = hit ? yTrue[i] : (yTrue[i] + 1) % 3;
    yPred[i] = c;
    for (let j = 0; j < 3; j++) proba[i * 3 + j] = j === c ? 0.7 : 0.15;
  }
  const input = { task: 'classification' as const, yTrue, yPred, proba, labels };
  const evaluation = computeReportMetrics(input);
  return {
    title: 'Evaluation of <model>',
    generatedAt: '2025-01-01T00:00:00.000Z',
    model: { family: 'forest', uri: 'models:/birds/3' },
    data: { file: 'test.csv', rows: n },
    evaluation,
    intervals: metricIntervals(input, ['accuracy', 'f1_macro'], { seed: 1, nResamples: 200 }),
    gate: evaluateGate(parseGate('accuracy=0.9,f1_macro=0.5'), evaluation.metrics),
    comparison: compareModels('classification', yTrue, yPred, yTrue),
    plots: [plot('confusion_matrix'), plot('roc')],
  };
}

const attr = (tag: string, name: string): string | undefined => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];

describe('renderHtmlReport', () => {
  const d = doc();
  const html = renderHtmlReport(d);

  it('has one value cell per metric showing the 4-decimal value and carrying the exact one', () => {
    const cells = [...html.matchAll(/<td[^>]*data-metric="([a-z_0-9]+)"[^>]*>([^<]*)<\/td>/g)];
    expect(cells.map((c) => c[1]).sort()).toEqual(Object.keys(d.evaluation.metrics).sort());
    for (const [tag, name, text] of cells) {
      expect(text).toBe(formatMetricValue(d.evaluation.metrics[name]));
      expect(Number(attr(tag, 'data-value'))).toBe(d.evaluation.metrics[name]);
    }
    expect(html).toMatch(/<tr class="headline"><th scope="row">Accuracy/);
  });

  it('shows intervals, per-class rows, gate and comparison with readable attributes', () => {
    const lower = /<span data-ci-lower="accuracy">([^<]*)<\/span>/.exec(html)?.[1];
    expect(lower).toBe(formatMetricValue(d.intervals?.accuracy.lower));
    expect(html).toContain(`data-class="${esc('<b>brass</b>')}"`);
    const per = d.evaluation.task === 'classification' ? d.evaluation.perClass : [];
    expect(html).toContain(`data-field="f1" data-value="${per[1].f1}">${formatMetricValue(per[1].f1)}</td>`);
    expect(html).toContain(`id="gate" class="banner fail" data-passed="false"`);
    expect(html).toContain('data-gate-metric="accuracy" data-passed="false"');
    expect(html).toContain('data-gate-metric="f1_macro" data-passed="true"');
    expect(html).toMatch(/id="comparison" class="banner fail" data-decision="worse"/);
  });

  it('names the baseline in the comparison banner and in the JSON summary when it is known', () => {
    const named = doc();
    const baseline = 'models:/inst@"champion"';
    if (!named.comparison) throw new Error('doc() has a comparison');
    named.comparison = { ...named.comparison, baseline };
    const text = renderHtmlReport(named);
    expect(text).toContain(`data-baseline="${esc(baseline)}"><strong>Against baseline <code>${esc(baseline)}</code>: worse</strong>`);
    expect((reportSummary(named).comparison as { baseline: string }).baseline).toBe(baseline);
    // Without a name the banner still reads, and claims no baseline it does not know.
    expect(html).toContain('<strong>Against baseline: worse</strong>');
    expect(html).not.toContain('data-baseline=');
  });

  it('notes one-vs-rest curves only for classification, and the residual sign only for regression', () => {
    const footer = (text: string): string => /<footer>(.*)<\/footer>/.exec(text)?.[1] ?? '';
    expect(footer(html)).toContain('Curves are one-vs-rest for multi-class tasks');
    expect(footer(html)).not.toContain('Residual');
    const y = Float64Array.from({ length: 20 }, (_, i) => i);
    const regression: ReportDocument = { title: 'r', model: {}, data: {}, evaluation: computeReportMetrics({ task: 'regression', yTrue: y, yPred: y.map((v) => v + 1) }), plots: [] };
    const text = footer(renderHtmlReport(regression));
    expect(text).not.toContain('one-vs-rest');
    expect(text).toContain('Residual = actual − predicted');
  });

  it('escapes every label and fact', () => {
    expect(html).not.toContain('<b>brass</b>');
    expect(html).toContain('&lt;b&gt;brass&lt;/b&gt;');
    expect(html).toContain('guitar &amp; co');
    expect(html).toContain('piano &quot;grand&quot;');
    expect(html).toContain('<title>Evaluation of &lt;model&gt;</title>');
  });

  it('embeds each plot as a data URI that decodes to its SVG, and loads nothing from outside', () => {
    const imgs = [...html.matchAll(/<img [^>]*>/g)].map((m) => m[0]);
    expect(imgs).toHaveLength(2);
    for (const tag of imgs) {
      const src = attr(tag, 'src') ?? '';
      expect(src.startsWith('data:image/svg+xml;base64,')).toBe(true);
      expect(Buffer.from(src.slice(src.indexOf(',') + 1), 'base64').toString('utf8')).toBe(TINY_SVG);
    }
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<link\b/);
    expect(html).toContain('data-plot-count="2"');
  });
});

describe('writeReport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spotml-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes report.html, metrics.json (NaN as null) and each plot as SVG and PNG', async () => {
    const d = doc();
    d.evaluation.metrics.cohen_kappa = Number.NaN;
    const written = await writeReport(dir, d);
    expect(existsSync(written.html)).toBe(true);
    const json = JSON.parse(readFileSync(written.json, 'utf8')) as Record<string, unknown> & { metrics: Record<string, number | null> };
    expect(json.metrics.cohen_kappa).toBeNull();
    expect(json.metrics.accuracy).toBe(d.evaluation.metrics.accuracy);
    expect(json.plots).toEqual(['confusion_matrix', 'roc']);
    expect(reportSummary(d).headline).toBe('accuracy');
    for (const p of written.plots) {
      expect(readFileSync(p.svg, 'utf8')).toBe(TINY_SVG);
      expect(new Uint8Array(readFileSync(p.png))).toEqual(TINY_PNG);
    }
    expect(readFileSync(written.html, 'utf8')).toContain('<a href="roc.png">PNG</a>');
  });
});
