/**
 * The evaluation plots as Vega-Lite specs, rendered headless: Vega-Lite → Vega → SVG (vega's View.toSVG with
 * no renderer) → PNG (@resvg/resvg-js, 2× for sharp text). One visual style for all: titles and axis labels in
 * words, the Okabe–Ito colourblind-safe palette for classes, a sequential blue scale for counts, dashed grey
 * reference lines (chance on ROC, perfect calibration, zero residual).
 */
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { compile, type Config, type TopLevelSpec } from 'vega-lite';
import type { PermutationImportanceResult } from '../metrics/importance.js';
import type { ClassificationMetrics, EvaluationMetrics, RegressionMetrics } from '../metrics/report-metrics.js';
import { writeFileAtomic } from '../tracking/fs-atomic.js';

/** Okabe & Ito (2008), black last; then Paul Tol's "muted" for tasks with more than eight classes. */
export const PALETTE: readonly string[] = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#F0E442',
  '#000000',
  '#332288',
  '#882255',
  '#44AA99',
  '#999933',
  '#AA4499',
  '#DDCC77',
  '#117733',
  '#88CCEE',
  '#CC6677',
];

const REFERENCE_LINE = { color: '#8a8a8a', strokeDash: [5, 4], strokeWidth: 1.2 };
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const CONFIG: Config = {
  font: FONT,
  background: 'white',
  padding: 14,
  title: { fontSize: 15, fontWeight: 'bold', anchor: 'start', offset: 12, subtitleFontSize: 11, subtitleColor: '#555555', subtitlePadding: 4 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', titlePadding: 8, gridColor: '#ececec', domainColor: '#777777', tickColor: '#777777', labelColor: '#333333', titleColor: '#222222' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', labelLimit: 260, symbolStrokeWidth: 2.5 },
  view: { stroke: '#d0d0d0' },
  range: { category: [...PALETTE] },
  line: { strokeWidth: 2 },
};

/** One plot: a stable id (also its file name), a title for the report, and the Vega-Lite spec. */
export interface PlotSpec {
  id: string;
  title: string;
  /** What the plot shows, one sentence (caption in the HTML report). */
  caption: string;
  spec: TopLevelSpec;
}

export interface RenderedPlot {
  id: string;
  title: string;
  caption: string;
  svg: string;
  png: Uint8Array;
  /** CSS pixel size of the SVG (the PNG is `scale` times larger). */
  width: number;
  height: number;
}

/** At most this many features in the importance plot, the most important first. */
export const MAX_IMPORTANCE_FEATURES = 20;

// ---------------------------------------------------------------------------------------------------------
// Specs

/** The plots for an evaluation: confusion matrices and curves (classification) or residuals (regression). */
export function buildPlotSpecs(metrics: EvaluationMetrics, importance?: PermutationImportanceResult): PlotSpec[] {
  const specs = metrics.task === 'classification' ? classificationSpecs(metrics) : regressionSpecs(metrics);
  if (importance && importance.features.length > 0) specs.push(importanceSpec(importance));
  return specs;
}

function classificationSpecs(m: ClassificationMetrics): PlotSpec[] {
  const specs: PlotSpec[] = [
    confusionSpec(m, false),
    confusionSpec(m, true),
  ];
  if (m.roc) specs.push(rocSpec(m));
  if (m.precisionRecall) specs.push(precisionRecallSpec(m));
  if (m.calibration) specs.push(calibrationSpec(m));
  return specs;
}

function confusionSpec(m: ClassificationMetrics, normalized: boolean): PlotSpec {
  const k = m.labels.length;
  const matrix = normalized ? m.confusionMatrixNormalized : m.confusionMatrix;
  const values: { actual: string; predicted: string; value: number; count: number }[] = [];
  let max = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      values.push({ actual: m.labels[i], predicted: m.labels[j], value: matrix[i][j], count: m.confusionMatrix[i][j] });
      max = Math.max(max, matrix[i][j]);
    }
  }
  const cell = Math.max(26, Math.min(72, Math.floor(440 / k)));
  const textSize = Math.max(8, Math.min(14, Math.floor(cell / 3.2)));
  const format = normalized ? '.2f' : 'd';
  const labelAngle = m.labels.some((l) => l.length > 3) && k > 3 ? -40 : 0;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: normalized ? 'Confusion matrix (normalised by true class)' : 'Confusion matrix (counts)',
      subtitle: normalized ? 'Each row sums to 1: the share of each true class predicted as each class' : `${m.nSamples} rows; diagonal cells are correct predictions`,
    },
    width: cell * k,
    height: cell * k,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: m.labels, title: 'Predicted class', axis: { labelAngle, orient: 'bottom', domain: false, ticks: false } },
      y: { field: 'actual', type: 'nominal', sort: m.labels, title: 'True class', axis: { domain: false, ticks: false } },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          color: {
            field: 'value',
            type: 'quantitative',
            scale: { domain: [0, normalized ? 1 : Math.max(1, max)], range: ['#f3f8fd', '#08519c'], interpolate: 'hcl' },
            title: normalized ? 'Share' : 'Rows',
            legend: { gradientLength: Math.max(120, Math.min(260, cell * k)), format: normalized ? '.1f' : 'd' },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: textSize, baseline: 'middle' },
        encoding: {
          text: { field: 'value', type: 'quantitative', format },
          // Dark text on light cells, white on dark ones: readable at both ends of the scale.
          color: { condition: { test: `datum.value > ${(normalized ? 1 : Math.max(1, max)) * 0.55}`, value: 'white' }, value: '#1a1a1a' },
        },
      },
    ],
    config: CONFIG,
  };
  return {
    id: normalized ? 'confusion_matrix_normalized' : 'confusion_matrix',
    title: normalized ? 'Confusion matrix (normalised)' : 'Confusion matrix',
    caption: normalized ? 'Rows are true classes; each row shows how that class was predicted, as a share.' : 'Rows are true classes, columns predicted classes; cells count rows.',
    spec,
  };
}

function seriesName(label: string, what: string, value: number): string {
  return `${label} (${what} ${Number.isFinite(value) ? value.toFixed(3) : 'n/a'})`;
}

function rocSpec(m: ClassificationMetrics): PlotSpec {
  const series = m.roc ?? [];
  const values = series.flatMap((s) =>
    s.fpr.map((x, i) => ({ series: seriesName(s.label, 'AUC', s.auc), fpr: x, tpr: s.tpr[i], order: i })).filter((p) => Number.isFinite(p.fpr) && Number.isFinite(p.tpr)),
  );
  const binary = m.labels.length === 2;
  return {
    id: 'roc',
    title: 'ROC curves',
    caption: binary ? `ROC curve of the positive class "${m.labels[1]}"; the dashed diagonal is a random ranking.` : 'One-vs-rest ROC curve per class; the dashed diagonal is a random ranking.',
    spec: curveSpec({
      title: binary ? 'ROC curve' : 'ROC curves (one-vs-rest)',
      subtitle: binary ? `Positive class: ${m.labels[1]}` : 'Each class against all others',
      values,
      x: { field: 'fpr', title: 'False positive rate' },
      y: { field: 'tpr', title: 'True positive rate' },
      legendTitle: 'Class (AUC)',
      interpolate: 'linear',
      reference: [{ x: 0, y: 0, x2: 1, y2: 1 }],
      nSeries: series.length,
      legend: 'bottom-right',
    }),
  };
}

function precisionRecallSpec(m: ClassificationMetrics): PlotSpec {
  const series = m.precisionRecall ?? [];
  const values = series.flatMap((s) => s.recall.map((r, i) => ({ series: seriesName(s.label, 'AP', s.averagePrecision), recall: r, precision: s.precision[i], order: i })));
  const binary = m.labels.length === 2;
  // A random ranking has precision = prevalence: drawn for the binary case, where there is one such line.
  const reference = binary && series.length === 1 && Number.isFinite(series[0].prevalence) ? [{ x: 0, y: series[0].prevalence, x2: 1, y2: series[0].prevalence }] : [];
  return {
    id: 'precision_recall',
    title: 'Precision-recall curves',
    caption: binary
      ? `Precision-recall curve of "${m.labels[1]}"; the dashed line is the precision of a random ranking (prevalence ${series[0]?.prevalence.toFixed(3)}).`
      : 'One-vs-rest precision-recall curve per class, with average precision (AP) in the legend.',
    spec: curveSpec({
      title: binary ? 'Precision-recall curve' : 'Precision-recall curves (one-vs-rest)',
      subtitle: binary ? `Positive class: ${m.labels[1]}` : 'Each class against all others',
      values,
      x: { field: 'recall', title: 'Recall' },
      y: { field: 'precision', title: 'Precision' },
      legendTitle: 'Class (AP)',
      interpolate: 'step-after',
      reference,
      nSeries: series.length,
      legend: 'bottom-left',
    }),
  };
}

function calibrationSpec(m: ClassificationMetrics): PlotSpec {
  const series = m.calibration ?? [];
  const values = series.flatMap((s) => s.probPred.map((p, i) => ({ series: s.label, predicted: p, observed: s.probTrue[i], rows: s.counts[i], order: i })));
  const binary = m.labels.length === 2;
  return {
    id: 'calibration',
    title: 'Calibration curve',
    caption: 'Mean predicted probability against the observed share of positives in 10 uniform bins; the dashed diagonal is perfect calibration.',
    spec: curveSpec({
      title: binary ? 'Calibration curve' : 'Calibration curves (one-vs-rest)',
      subtitle: binary ? `Positive class: ${m.labels[1]}; 10 uniform bins, empty bins omitted` : '10 uniform bins per class, empty bins omitted',
      values,
      x: { field: 'predicted', title: 'Mean predicted probability' },
      y: { field: 'observed', title: 'Fraction of positives' },
      legendTitle: 'Class',
      interpolate: 'linear',
      reference: [{ x: 0, y: 0, x2: 1, y2: 1 }],
      nSeries: series.length,
      points: true,
      legend: 'right',
    }),
  };
}

interface CurveOptions {
  title: string;
  subtitle: string;
  values: Record<string, string | number>[];
  x: { field: string; title: string };
  y: { field: string; title: string };
  legendTitle: string;
  interpolate: 'linear' | 'step-after';
  reference: { x: number; y: number; x2: number; y2: number }[];
  nSeries: number;
  points?: boolean;
  /** Where the legend goes: inside a corner the curves leave empty, or outside on the right. */
  legend: 'bottom-right' | 'bottom-left' | 'right';
}

/** Lines on the unit square, one colour per series, with dashed reference segments under them. */
function curveSpec(o: CurveOptions): TopLevelSpec {
  const unit = { domain: [0, 1], nice: false, zero: false, clamp: true };
  // A long legend inside the plot would hide curves: past six series it goes outside.
  const legendOrient = o.nSeries > 6 ? 'right' : o.legend;
  const layers: NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']> = [];
  if (o.reference.length > 0) {
    layers.push({
      data: { values: o.reference },
      mark: { type: 'rule', ...REFERENCE_LINE },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: unit },
        y: { field: 'y', type: 'quantitative', scale: unit },
        x2: { field: 'x2' },
        y2: { field: 'y2' },
      },
    });
  }
  layers.push({
    mark: { type: 'line', interpolate: o.interpolate, strokeWidth: 2.2, point: o.points ? { filled: true, size: 36 } : false, clip: true },
    encoding: {
      x: { field: o.x.field, type: 'quantitative', scale: unit, title: o.x.title, axis: { tickCount: 5, format: '.1f' } },
      y: { field: o.y.field, type: 'quantitative', scale: unit, title: o.y.title, axis: { tickCount: 5, format: '.1f' } },
      color: {
        field: 'series',
        type: 'nominal',
        title: o.legendTitle,
        sort: null,
        legend: { orient: legendOrient, fillColor: 'rgba(255,255,255,0.9)', padding: 6, cornerRadius: 3, ...(legendOrient === 'right' ? {} : { strokeColor: '#dddddd', offset: 8 }) },
      },
      // Past eight classes colours repeat in kind, so dashes tell neighbours apart.
      // Same field and title as colour, so Vega-Lite merges both into one legend of dashed, coloured lines.
      ...(o.nSeries > 8 ? { strokeDash: { field: 'series', type: 'nominal', sort: null, title: o.legendTitle } } : {}),
      order: { field: 'order', type: 'quantitative' },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: o.title, subtitle: o.subtitle },
    width: 360,
    height: 360,
    data: { values: o.values },
    layer: layers,
    config: CONFIG,
  };
}

function regressionSpecs(m: RegressionMetrics): PlotSpec[] {
  const { actual, predicted, residual } = m.residuals;
  const values = predicted.map((p, i) => ({ predicted: p, actual: actual[i], residual: residual[i] }));
  const lo = Math.min(...actual, ...predicted);
  const hi = Math.max(...actual, ...predicted);
  const pad = (hi - lo) * 0.04 || 1;
  const span = [lo - pad, hi + pad];
  const predLo = Math.min(...predicted);
  const predHi = Math.max(...predicted);
  const predPad = (predHi - predLo) * 0.04 || 1;
  const pointMark = { type: 'point', filled: true, size: values.length > 2000 ? 10 : 28, opacity: values.length > 2000 ? 0.35 : 0.65, color: PALETTE[0] } as const;
  const residuals: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Residuals', subtitle: `${m.nSamples} rows; residual = actual − predicted` },
    width: 420,
    height: 320,
    layer: [
      { data: { values: [{ y: 0 }] }, mark: { type: 'rule', ...REFERENCE_LINE }, encoding: { y: { field: 'y', type: 'quantitative' } } },
      {
        data: { values },
        mark: pointMark,
        encoding: {
          x: { field: 'predicted', type: 'quantitative', title: 'Predicted value', scale: { zero: false, domain: [predLo - predPad, predHi + predPad], nice: false } },
          y: { field: 'residual', type: 'quantitative', title: 'Residual (actual − predicted)' },
        },
      },
    ],
    config: CONFIG,
  };
  const parity: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Predicted vs actual', subtitle: 'Points on the dashed diagonal are exact predictions' },
    width: 360,
    height: 360,
    layer: [
      {
        data: { values: [{ x: span[0], y: span[0], x2: span[1], y2: span[1] }] },
        mark: { type: 'rule', ...REFERENCE_LINE },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, x2: { field: 'x2' }, y2: { field: 'y2' } },
      },
      {
        data: { values },
        mark: pointMark,
        encoding: {
          x: { field: 'actual', type: 'quantitative', title: 'Actual value', scale: { domain: span, nice: false, zero: false } },
          y: { field: 'predicted', type: 'quantitative', title: 'Predicted value', scale: { domain: span, nice: false, zero: false } },
        },
      },
    ],
    config: CONFIG,
  };
  return [
    { id: 'residuals', title: 'Residuals', caption: 'Residual against predicted value; a band around zero without pattern means unbiased errors.', spec: residuals },
    { id: 'predicted_vs_actual', title: 'Predicted vs actual', caption: 'Each row as (actual, predicted); the dashed diagonal is a perfect prediction.', spec: parity },
  ];
}

function importanceSpec(result: PermutationImportanceResult): PlotSpec {
  const top = [...result.features].sort((a, b) => b.mean - a.mean || a.index - b.index).slice(0, MAX_IMPORTANCE_FEATURES);
  const values = top.map((f) => ({ feature: f.name, mean: f.mean, low: f.mean - f.std, high: f.mean + f.std }));
  const featureAxis = { field: 'feature', type: 'nominal', sort: values.map((v) => v.feature), title: null, axis: { labelLimit: 220 } } as const;
  const shown = top.length < result.features.length ? `top ${top.length} of ${result.features.length} features` : `${top.length} features`;
  return {
    id: 'permutation_importance',
    title: 'Permutation feature importance',
    caption: `Mean score loss when one feature is shuffled (${result.nRepeats} repeats; whiskers ± 1 standard deviation).`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: { text: 'Permutation feature importance', subtitle: `${shown}; mean score loss over ${result.nRepeats} shuffles, ± 1 s.d.` },
      width: 420,
      height: Math.max(80, top.length * 20),
      layer: [
        {
          data: { values },
          mark: { type: 'bar', color: PALETTE[0], height: { band: 0.7 } },
          encoding: { y: featureAxis, x: { field: 'mean', type: 'quantitative', title: 'Score loss when shuffled' } },
        },
        {
          data: { values },
          mark: { type: 'rule', color: '#333333', strokeWidth: 1.2 },
          encoding: { y: featureAxis, x: { field: 'low', type: 'quantitative' }, x2: { field: 'high' } },
        },
        // Zero: no loss when shuffled, i.e. the model ignores the feature.
        { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#555555', strokeWidth: 1 }, encoding: { x: { field: 'zero', type: 'quantitative' } } },
      ],
      config: CONFIG,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

/** Renders one spec to SVG and PNG (PNG at `scale` × the SVG's pixel size, default 2). */
export async function renderPlot(plot: PlotSpec, scale = 2): Promise<RenderedPlot> {
  const vega = compile(plot.spec).spec;
  const view = new View(parse(vega), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const size = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
    const width = size ? Number(size[1]) : 0;
    const height = size ? Number(size[2]) : 0;
    const png = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: scale },
      background: 'white',
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    })
      .render()
      .asPng();
    return { id: plot.id, title: plot.title, caption: plot.caption, svg, png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), width, height };
  } finally {
    view.finalize();
  }
}

export async function renderPlots(metrics: EvaluationMetrics, importance?: PermutationImportanceResult, scale = 2): Promise<RenderedPlot[]> {
  const out: RenderedPlot[] = [];
  for (const spec of buildPlotSpecs(metrics, importance)) out.push(await renderPlot(spec, scale));
  return out;
}

/** Writes `<id>.svg` and `<id>.png` per plot into `dir`; returns the paths written. */
export async function writePlotFiles(dir: string, plots: readonly RenderedPlot[]): Promise<{ id: string; svg: string; png: string }[]> {
  const written: { id: string; svg: string; png: string }[] = [];
  for (const plot of plots) {
    const svg = join(dir, `${plot.id}.svg`);
    const png = join(dir, `${plot.id}.png`);
    await writeFileAtomic(svg, plot.svg);
    await writeFileAtomic(png, plot.png);
    written.push({ id: plot.id, svg, png });
  }
  return written;
}
