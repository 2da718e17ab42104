/**
 * The plots render through the real chart stack (Vega-Lite → Vega SVG → resvg PNG): which plots exist per task,
 * that the SVG carries the numbers it should (each confusion-matrix cell annotated with its count, in its row
 * and column), the reference lines and palette, and that the PNG is a real image at twice the SVG's size.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/learners/rng.js';
import type { PermutationImportanceResult } from '../../../src/metrics/importance.js';
import { computeReportMetrics } from '../../../src/metrics/report-metrics.js';
import { PALETTE, buildPlotSpecs, renderPlot, renderPlots } from '../../../src/report/plots.js';

function classificationInput(n: number, k: number, seed: number) {
  const rng = new Rng(seed);
  const yTrue = new Float64Array(n);
  const yPred = new Float64Array(n);
  const proba = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const y = rng.int(k);
    yTrue[i] = y;
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const v = Math.exp((c === y ? 1.5 : 0) + rng.normal());
      proba[i * k + c] = v;
      sum += v;
    }
    let best = 0;
    for (let c = 0; c < k; c++) {
      proba[i * k + c] /= sum;
      if (proba[i * k + c] > proba[i * k + best]) best = c;
    }
    yPred[i] = best;
  }
  return { task: 'classification' as const, yTrue, yPred, proba, labels: Array.from({ length: k }, (_, c) => `class_${c}`) };
}

const importance: PermutationImportanceResult = {
  baseline: 0.9,
  nRepeats: 3,
  features: [
    { index: 0, name: 'mfcc_1_mean', mean: 0.2, std: 0.02, drops: [0.18, 0.2, 0.22] },
    { index: 1, name: 'zcr_mean', mean: 0.01, std: 0.01, drops: [0, 0.01, 0.02] },
  ],
};

function pngSize(png: Uint8Array): { width: number; height: number } {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  // The first chunk is IHDR: width and height, big-endian, at bytes 16 and 20.
  expect(String.fromCharCode(...png.subarray(12, 16))).toBe('IHDR');
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

describe('plot specs per task', () => {
  it('classification with probabilities: confusion matrices, ROC, PR, calibration, importance', () => {
    const metrics = computeReportMetrics(classificationInput(120, 3, 1));
    expect(buildPlotSpecs(metrics, importance).map((p) => p.id)).toEqual([
      'confusion_matrix',
      'confusion_matrix_normalized',
      'roc',
      'precision_recall',
      'calibration',
      'permutation_importance',
    ]);
  });

  it('without probabilities only the confusion matrices; regression has residual plots', () => {
    const { proba: _proba, ...labelsOnly } = classificationInput(50, 2, 2);
    expect(buildPlotSpecs(computeReportMetrics(labelsOnly)).map((p) => p.id)).toEqual(['confusion_matrix', 'confusion_matrix_normalized']);
    const y = Float64Array.from({ length: 40 }, (_, i) => i);
    const regression = computeReportMetrics({ task: 'regression', yTrue: y, yPred: y.map((v) => v + Math.sin(v)) });
    expect(buildPlotSpecs(regression).map((p) => p.id)).toEqual(['residuals', 'predicted_vs_actual']);
  });
});

describe('rendering', () => {
  it('every classification plot renders to SVG and a 2× PNG', async () => {
    const metrics = computeReportMetrics(classificationInput(150, 3, 3));
    const plots = await renderPlots(metrics, importance);
    expect(plots).toHaveLength(6);
    for (const plot of plots) {
      expect(plot.svg.startsWith('<svg')).toBe(true);
      expect(plot.svg).toContain(`Title text '`);
      expect(plot.width).toBeGreaterThan(200);
      expect(plot.height).toBeGreaterThan(150);
      const size = pngSize(plot.png);
      expect(size.width).toBe(Math.round(plot.width * 2));
      expect(size.height).toBe(Math.round(plot.height * 2));
      // A blank canvas compresses to a few hundred bytes; text and marks take far more.
      expect(plot.png.length).toBeGreaterThan(8000);
    }
  });

  it('annotates each confusion-matrix cell with its count, in its row and column', async () => {
    const metrics = computeReportMetrics(classificationInput(90, 3, 4));
    const [spec] = buildPlotSpecs(metrics);
    const { svg } = await renderPlot(spec, 1);
    const layer = svg.slice(svg.indexOf('layer_1_marks'));
    const cells = [...layer.matchAll(/<text aria-label="Predicted class: (\w+); True class: (\w+); value: (\d+)"[^>]*transform="translate\(([\d.]+),([\d.]+)\)"[^>]*>(\d+)<\/text>/g)];
    expect(cells).toHaveLength(9);
    for (const [, predicted, actual, , x, y, shown] of cells) {
      const i = metrics.labels.indexOf(actual);
      const j = metrics.labels.indexOf(predicted);
      expect(Number(shown)).toBe(metrics.confusionMatrix[i][j]);
      // Columns left to right by predicted class, rows top to bottom by true class.
      const sameRow = cells.filter((c) => c[2] === actual).map((c) => Number(c[5]));
      expect(new Set(sameRow).size).toBe(1);
      expect(Number(x)).toBeGreaterThan(j === 0 ? 0 : Number(cells.find((c) => c[1] === metrics.labels[j - 1] && c[2] === actual)?.[4]));
      expect(Number(y)).toBeGreaterThan(i === 0 ? 0 : Number(cells.find((c) => c[2] === metrics.labels[i - 1])?.[5]));
    }
  });

  it('ROC and calibration have the dashed diagonal; class colours come from the colourblind-safe palette', async () => {
    const metrics = computeReportMetrics(classificationInput(150, 3, 5));
    const specs = buildPlotSpecs(metrics);
    for (const id of ['roc', 'calibration']) {
      const spec = specs.find((s) => s.id === id);
      if (!spec) throw new Error(`no ${id} plot`);
      const { svg } = await renderPlot(spec, 1);
      expect(svg).toContain('stroke-dasharray="5,4"');
      for (const colour of PALETTE.slice(0, 3)) expect(svg).toContain(`stroke="${colour}"`);
      expect(svg).toContain('class_0');
    }
  });

  it('regression plots render with the zero line and the diagonal', async () => {
    const rng = new Rng(6);
    const y = Float64Array.from({ length: 80 }, () => rng.normal() * 3 + 10);
    const metrics = computeReportMetrics({ task: 'regression', yTrue: y, yPred: y.map((v) => v + rng.normal()) });
    const plots = await renderPlots(metrics, undefined, 1);
    expect(plots.map((p) => p.id)).toEqual(['residuals', 'predicted_vs_actual']);
    for (const plot of plots) {
      expect(plot.svg).toContain('stroke-dasharray="5,4"');
      // One point mark per row.
      expect(plot.svg.match(/aria-roledescription="point"/g)).toHaveLength(80);
      pngSize(plot.png);
    }
  });
});
