/**
 * One self-contained HTML report per evaluation: model and data facts, the gate and comparison outcomes, the
 * metric table with bootstrap intervals, per-class scores, and every plot embedded as an SVG data URI (so the
 * file works alone, offline, moved anywhere). Values carry machine-readable attributes
 * (`data-metric`, `data-value`, …) and a tiny inline script marks each image `data-loaded` once it decodes,
 * so a headless browser can verify the page.
 */
import { join } from 'node:path';
import type { GateResult } from '../metrics/gate.js';
import type { PermutationImportanceResult } from '../metrics/importance.js';
import { REPORT_METRICS, headlineMetric, type EvaluationMetrics } from '../metrics/report-metrics.js';
import { describeComparison, type ComparisonResult, type ConfidenceInterval } from '../metrics/stats.js';
import { writeFileAtomic } from '../tracking/fs-atomic.js';
import { SPOTML_VERSION } from '../version.js';
import { writePlotFiles, type RenderedPlot } from './plots.js';

export type Facts = Readonly<Record<string, string | number | boolean>>;

/** A paired comparison with the baseline it was made against, as the user named it (e.g. models:/birds@champion). */
export type BaselineComparison = ComparisonResult & { baseline: string };

export interface ReportDocument {
  /** Page title, e.g. "Evaluation of models:/birds/3 on test.csv". */
  title: string;
  /** ISO timestamp shown in the footer (default: now). */
  generatedAt?: string;
  model: Facts;
  data: Facts;
  evaluation: EvaluationMetrics;
  /** Bootstrap intervals by metric name (at least the headline metric). */
  intervals?: Readonly<Record<string, ConfidenceInterval>>;
  gate?: GateResult;
  /** With `baseline`, the report names what the candidate was compared against. */
  comparison?: ComparisonResult & { baseline?: string };
  importance?: PermutationImportanceResult;
  plots: readonly RenderedPlot[];
}

/** The shown form of every metric value: 4 decimals, "n/a" when undefined. Tables, terminal and tests share it. */
export function formatMetricValue(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : 'n/a';
}

/**
 * The report as plain JSON (what `metrics.json` holds and what `--json` can print): scalar metrics, intervals,
 * per-class scores, confusion matrix, gate and comparison. Curves and residual arrays stay in the evaluation
 * object; this is the summary a pipeline reads.
 */
export function reportSummary(doc: ReportDocument): Record<string, unknown> {
  const e = doc.evaluation;
  return {
    title: doc.title,
    task: e.task,
    nSamples: e.nSamples,
    headline: headlineMetric(e.task),
    metrics: e.metrics,
    intervals: doc.intervals ?? {},
    ...(e.task === 'classification' ? { labels: e.labels, perClass: e.perClass, confusionMatrix: e.confusionMatrix } : {}),
    gate: doc.gate ?? null,
    comparison: doc.comparison ?? null,
    importance: doc.importance ? doc.importance.features.map(({ name, mean, std }) => ({ name, mean, std })) : null,
    model: doc.model,
    data: doc.data,
    plots: doc.plots.map((p) => p.id),
  };
}

export function renderHtmlReport(doc: ReportDocument, options: { linkPlotFiles?: boolean } = {}): string {
  const e = doc.evaluation;
  const headline = headlineMetric(e.task);
  const generatedAt = doc.generatedAt ?? new Date().toISOString();
  const sections: string[] = [];
  sections.push(`<header><h1>${esc(doc.title)}</h1><p class="sub">${esc(e.task)} · ${e.nSamples} rows · generated ${esc(generatedAt)} by spotml ${esc(SPOTML_VERSION)}</p></header>`);
  sections.push(outcomeSection(doc));
  sections.push(`<section class="facts"><div><h2>Model</h2>${factList(doc.model, 'model')}</div><div><h2>Data</h2>${factList(doc.data, 'data')}</div></section>`);
  sections.push(metricSection(doc, headline));
  if (e.task === 'classification') sections.push(perClassSection(doc));
  sections.push(plotSection(doc.plots, options.linkPlotFiles === true));
  const first = firstInterval(doc);
  const notes = e.task === 'classification' ? ', stratified by class. Curves are one-vs-rest for multi-class tasks.' : '. Residual = actual − predicted.';
  sections.push(`<footer>Intervals: percentile bootstrap${first ? `, ${first.nResamples} resamples` : ''}${notes}</footer>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.title)}</title>
<style>${STYLE}</style>
</head>
<body data-task="${esc(e.task)}" data-plot-count="${doc.plots.length}">
<main>
${sections.join('\n')}
</main>
<script>${LOAD_SCRIPT}</script>
</body>
</html>
`;
}

function firstInterval(doc: ReportDocument): ConfidenceInterval | undefined {
  return doc.intervals ? Object.values(doc.intervals)[0] : undefined;
}

function outcomeSection(doc: ReportDocument): string {
  const parts: string[] = [];
  if (doc.gate) {
    const g = doc.gate;
    const rows = g.thresholds
      .map((t) => {
        const failure = g.failures.find((f) => f.metric === t.metric);
        const actual = doc.evaluation.metrics[t.metric];
        return `<tr data-gate-metric="${esc(t.metric)}" data-passed="${failure ? 'false' : 'true'}"><td>${esc(t.metric)}</td><td class="num">${esc(t.op)} ${esc(String(t.threshold))}</td><td class="num">${formatMetricValue(actual)}</td><td>${failure ? '<span class="bad">missed</span>' : '<span class="good">met</span>'}</td></tr>`;
      })
      .join('');
    parts.push(
      `<div id="gate" class="banner ${g.passed ? 'pass' : 'fail'}" data-passed="${g.passed}"><strong>${g.passed ? 'Quality gate passed' : 'Quality gate failed'}</strong><span>${esc(g.summary)}</span>` +
        `<table class="compact"><thead><tr><th>Metric</th><th>Threshold</th><th>Value</th><th></th></tr></thead><tbody>${rows}</tbody></table></div>`,
    );
  }
  if (doc.comparison) {
    const c = doc.comparison;
    const cls = c.decision === 'better' ? 'pass' : c.decision === 'worse' ? 'fail' : 'neutral';
    const counts = c.counts
      ? `<p class="detail">Discordant rows: candidate right &amp; baseline wrong <span data-count="candidate-only">${c.counts.candidateOnly}</span>, baseline right &amp; candidate wrong <span data-count="baseline-only">${c.counts.baselineOnly}</span>.</p>`
      : c.interval
        ? `<p class="detail">${Math.round((1 - c.alpha) * 100)}% interval of Δ: [${formatMetricValue(c.interval.lower)}, ${formatMetricValue(c.interval.upper)}].</p>`
        : '';
    parts.push(
      `<div id="comparison" class="banner ${cls}" data-decision="${esc(c.decision)}" data-p-value="${c.pValue}" data-test="${esc(c.test)}"${c.baseline ? ` data-baseline="${esc(c.baseline)}"` : ''}><strong>Against baseline${c.baseline ? ` <code>${esc(c.baseline)}</code>` : ''}: ${esc(c.decision)}</strong><span>${esc(describeComparison(c))}</span>${counts}</div>`,
    );
  }
  return parts.length > 0 ? `<section class="outcome">${parts.join('')}</section>` : '';
}

function factList(facts: Facts, scope: string): string {
  const entries = Object.entries(facts);
  if (entries.length === 0) return '<p class="muted">—</p>';
  return `<dl>${entries.map(([k, v]) => `<dt>${esc(k)}</dt><dd data-fact="${esc(scope)}.${esc(k)}">${esc(String(v))}</dd>`).join('')}</dl>`;
}

function metricSection(doc: ReportDocument, headline: string): string {
  const e = doc.evaluation;
  const names = REPORT_METRICS.map((d) => d.name).filter((n) => n in e.metrics);
  const rows = names.map((name) => {
    const d = REPORT_METRICS.find((m) => m.name === name);
    const v = e.metrics[name];
    const ci = doc.intervals?.[name];
    const ciCell = ci
      ? `<td class="num ci" data-ci="${esc(name)}" data-lower="${ci.lower}" data-upper="${ci.upper}">[<span data-ci-lower="${esc(name)}">${formatMetricValue(ci.lower)}</span>, <span data-ci-upper="${esc(name)}">${formatMetricValue(ci.upper)}</span>]</td>`
      : '<td class="num ci muted">—</td>';
    const direction = d?.greaterIsBetter ? '↑' : '↓';
    return `<tr${name === headline ? ' class="headline"' : ''}><th scope="row">${esc(d?.title ?? name)} <code>${esc(name)}</code> <span class="dir" title="${d?.greaterIsBetter ? 'higher is better' : 'lower is better'}">${direction}</span></th><td class="num" data-metric="${esc(name)}" data-value="${numAttr(v)}">${formatMetricValue(v)}</td>${ciCell}</tr>`;
  });
  const first = firstInterval(doc);
  const level = first ? `${Math.round(first.confidence * 100)}% CI` : 'CI';
  return `<section><h2>Metrics</h2><table id="metrics"><thead><tr><th>Metric</th><th class="num">Value</th><th class="num">${level}</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function perClassSection(doc: ReportDocument): string {
  const e = doc.evaluation;
  if (e.task !== 'classification') return '';
  const rows = e.perClass
    .map(
      (r) =>
        `<tr data-class="${esc(r.label)}"><th scope="row">${esc(r.label)}</th>${(['precision', 'recall', 'f1'] as const)
          .map((f) => `<td class="num" data-field="${f}" data-value="${numAttr(r[f])}">${formatMetricValue(r[f])}</td>`)
          .join('')}<td class="num" data-field="support" data-value="${r.support}">${r.support}</td></tr>`,
    )
    .join('');
  return `<section><h2>Per class</h2><table id="per-class"><thead><tr><th>Class</th><th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th><th class="num">Support</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function plotSection(plots: readonly RenderedPlot[], linkFiles: boolean): string {
  if (plots.length === 0) return '';
  const figures = plots
    .map((p) => {
      const src = `data:image/svg+xml;base64,${Buffer.from(p.svg, 'utf8').toString('base64')}`;
      const links = linkFiles ? `<span class="files"><a href="${esc(p.id)}.svg">SVG</a> · <a href="${esc(p.id)}.png">PNG</a></span>` : '';
      return `<figure data-plot="${esc(p.id)}"><img data-plot-img="${esc(p.id)}" src="${src}" width="${p.width}" height="${p.height}" alt="${esc(p.title)}"><figcaption><strong>${esc(p.title)}.</strong> ${esc(p.caption)} ${links}</figcaption></figure>`;
    })
    .join('\n');
  return `<section><h2>Plots</h2><div class="plots">${figures}</div></section>`;
}

function numAttr(v: number): string {
  return Number.isFinite(v) ? String(v) : 'NaN';
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

// Marks each plot image once it has decoded (or failed), and the body once all have settled.
const LOAD_SCRIPT = `(function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img[data-plot-img]'));
  var pending = imgs.length;
  function settle(img) {
    if (img.hasAttribute('data-loaded')) return;
    img.setAttribute('data-loaded', img.naturalWidth > 0 ? 'true' : 'false');
    img.setAttribute('data-natural-width', String(img.naturalWidth));
    pending -= 1;
    if (pending === 0) document.body.setAttribute('data-plots-settled', 'true');
  }
  if (pending === 0) document.body.setAttribute('data-plots-settled', 'true');
  imgs.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) settle(img);
    else {
      img.addEventListener('load', function () { settle(img); });
      img.addEventListener('error', function () { settle(img); });
    }
  });
})();`;

const STYLE = `
:root { --fg: #1d1d1f; --muted: #6b6b70; --line: #e3e3e6; --bg: #fafafa; --good: #0b7a4b; --bad: #b3261e; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { font-size: 22px; margin: 0 0 4px; }
.sub, .muted, footer { color: var(--muted); }
h2 { font-size: 16px; margin: 28px 0 10px; }
section { margin-top: 8px; }
table { border-collapse: collapse; background: white; border: 1px solid var(--line); border-radius: 6px; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left; font-weight: normal; }
thead th { font-weight: 600; background: #f3f4f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.headline th, tr.headline td { font-weight: 700; background: #eef6fb; }
code { font-size: 12px; color: var(--muted); }
.dir { color: var(--muted); font-size: 12px; }
.ci { color: #444; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 0 32px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; background: white; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-all; }
.banner { border-radius: 6px; padding: 12px 16px; margin: 16px 0 0; border: 1px solid; display: flex; flex-direction: column; gap: 6px; }
.banner.pass { background: #e9f6ef; border-color: #9fd5b8; }
.banner.fail { background: #fcecea; border-color: #eeb0aa; }
.banner.neutral { background: #f1f3f5; border-color: #d5d9de; }
.banner table { margin-top: 4px; }
.good { color: var(--good); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.detail { margin: 0; color: #444; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 18px; }
figure { margin: 0; background: white; border: 1px solid var(--line); border-radius: 6px; padding: 12px; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { color: #444; font-size: 13px; margin-top: 8px; }
.files { white-space: nowrap; }
a { color: var(--accent); }
footer { margin-top: 32px; font-size: 12px; }
`;

export interface WrittenReport {
  html: string;
  json: string;
  plots: { id: string; svg: string; png: string }[];
}

/** Writes `report.html`, `metrics.json` and each plot as `<id>.svg` / `<id>.png` into `dir` (atomically per file). */
export async function writeReport(dir: string, doc: ReportDocument): Promise<WrittenReport> {
  const plots = await writePlotFiles(dir, doc.plots);
  const html = join(dir, 'report.html');
  const json = join(dir, 'metrics.json');
  await writeFileAtomic(json, `${JSON.stringify(reportSummary(doc), jsonNumbers, 2)}\n`);
  await writeFileAtomic(html, renderHtmlReport(doc, { linkPlotFiles: true }));
  return { html, json, plots };
}

/** JSON has no NaN or Infinity: they become null, as the CLI's --json output does. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
