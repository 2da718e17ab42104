/**
 * The plots of a study, as Vega-Lite specs rendered by `report/plots.ts` (same style and renderer):
 * optimisation history (every trial's score and the best so far), parallel coordinates (each complete
 * trial a line across its parameters, scaled to [0, 1], coloured by score), one slice per parameter
 * (score against that parameter) and the parameter importance bars.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ParamImportance } from '../search/importance.js';
import type { SearchSpace } from '../search/space.js';
import { type TrialRecord, completedTrials } from '../search/trial.js';
import { PALETTE, type PlotSpec, type RenderedPlot, renderPlot, writePlotFiles } from './plots.js';

const CONFIG = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  background: 'white',
  padding: 14,
  title: { fontSize: 15, fontWeight: 'bold', anchor: 'start', offset: 12, subtitleFontSize: 11, subtitleColor: '#555555' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#ececec', domainColor: '#777777' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
  view: { stroke: '#d0d0d0' },
} as const;

export interface TunePlotInput {
  study: string;
  space: SearchSpace;
  trials: readonly TrialRecord[];
  importance: readonly ParamImportance[];
  /** Axis title for the objective, e.g. "accuracy" or "−rmse". */
  scoreLabel: string;
}

/** A file-name-safe id for a parameter's slice plot. */
function sliceId(param: string): string {
  return `slice-${param.replace(/[^\w.-]/g, '_')}`;
}

export function buildTunePlotSpecs(input: TunePlotInput): PlotSpec[] {
  const complete = completedTrials(input.trials).sort((a, b) => a.number - b.number);
  const specs: PlotSpec[] = [historySpec(input, complete)];
  if (complete.length > 0 && Object.keys(input.space).length > 0) specs.push(parallelSpec(input, complete));
  for (const name of Object.keys(input.space)) specs.push(slice(input, complete, name));
  if (input.importance.length > 0) specs.push(importanceSpec(input));
  return specs;
}

function historySpec(input: TunePlotInput, complete: readonly TrialRecord[]): PlotSpec {
  let best = Number.NEGATIVE_INFINITY;
  const values = complete.map((t) => {
    best = Math.max(best, t.value as number);
    return { trial: t.number, score: t.value as number, best };
  });
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Optimisation history', subtitle: `study ${input.study}: ${complete.length} complete trials` },
    width: 520,
    height: 300,
    data: { values },
    layer: [
      {
        mark: { type: 'point', filled: true, opacity: 0.65, color: PALETTE[0], size: 40 },
        encoding: {
          x: { field: 'trial', type: 'quantitative', title: 'Trial number' },
          y: { field: 'score', type: 'quantitative', title: input.scoreLabel, scale: { zero: false } },
        },
      },
      {
        mark: { type: 'line', interpolate: 'step-after', color: PALETTE[1], strokeWidth: 2 },
        encoding: { x: { field: 'trial', type: 'quantitative' }, y: { field: 'best', type: 'quantitative' } },
      },
    ],
    config: CONFIG,
  } as TopLevelSpec;
  return { id: 'optimization-history', title: 'Optimisation history', caption: 'Each complete trial’s score (dots) and the best score so far (line).', spec };
}

/** A parameter value scaled to [0, 1] within its range (log for log ranges, index for choices). */
function scaled(space: SearchSpace, name: string, value: unknown): number | null {
  const d = space[name].distribution;
  if (value === undefined) return null;
  if (d.kind === 'categorical') {
    const i = d.choices.indexOf(value as never);
    return d.choices.length === 1 ? 0.5 : i / (d.choices.length - 1);
  }
  if (typeof value !== 'number') return null;
  const lo = d.log ? Math.log(d.low) : d.low;
  const hi = d.log ? Math.log(d.high) : d.high;
  const x = d.log ? Math.log(value) : value;
  return hi > lo ? (x - lo) / (hi - lo) : 0.5;
}

function parallelSpec(input: TunePlotInput, complete: readonly TrialRecord[]): PlotSpec {
  const names = Object.keys(input.space);
  const values: { trial: number; param: string; position: number; score: number }[] = [];
  for (const t of complete) {
    for (const name of names) {
      const position = scaled(input.space, name, t.params[name]);
      if (position !== null) values.push({ trial: t.number, param: name, position, score: t.value as number });
    }
  }
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Parallel coordinates', subtitle: 'each line a complete trial; axes scaled to each range (log ranges in log scale)' },
    width: Math.max(360, 110 * names.length),
    height: 300,
    data: { values },
    mark: { type: 'line', opacity: 0.6, strokeWidth: 1.4 },
    encoding: {
      x: { field: 'param', type: 'nominal', sort: names, title: null, axis: { labelAngle: 0 } },
      y: { field: 'position', type: 'quantitative', title: 'Position in range', scale: { domain: [0, 1] } },
      detail: { field: 'trial', type: 'nominal' },
      color: { field: 'score', type: 'quantitative', title: input.scoreLabel, scale: { scheme: 'viridis' } },
      order: { field: 'score', type: 'quantitative' },
    },
    config: CONFIG,
  } as TopLevelSpec;
  return { id: 'parallel-coordinates', title: 'Parallel coordinates', caption: 'Complete trials across their parameters, coloured by score.', spec };
}

function slice(input: TunePlotInput, complete: readonly TrialRecord[], name: string): PlotSpec {
  const d = input.space[name].distribution;
  const values = complete.filter((t) => t.params[name] !== undefined).map((t) => ({ trial: t.number, value: t.params[name], score: t.value as number }));
  const x =
    d.kind === 'categorical'
      ? { field: 'value', type: 'nominal', title: name, sort: d.choices.map(String) }
      : { field: 'value', type: 'quantitative', title: name, scale: d.log ? { type: 'log' } : { zero: false } };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `Slice: ${name}`, subtitle: 'score of each complete trial against this parameter; later trials darker' },
    width: 380,
    height: 260,
    data: { values: values.map((v) => ({ ...v, value: d.kind === 'categorical' ? String(v.value) : v.value })) },
    mark: { type: 'point', filled: true, size: 45, opacity: 0.75 },
    encoding: {
      x,
      y: { field: 'score', type: 'quantitative', title: input.scoreLabel, scale: { zero: false } },
      color: { field: 'trial', type: 'quantitative', title: 'Trial', scale: { scheme: 'blues' } },
    },
    config: CONFIG,
  } as TopLevelSpec;
  return { id: sliceId(name), title: `Slice: ${name}`, caption: `Score against ${name}.`, spec };
}

function importanceSpec(input: TunePlotInput): PlotSpec {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Parameter importance', subtitle: 'share of the score variance each parameter explains alone (binned η²)' },
    width: 420,
    height: Math.max(60, 24 * input.importance.length),
    data: { values: input.importance.map((p) => ({ param: p.param, importance: p.importance })) },
    mark: { type: 'bar', color: PALETTE[0] },
    encoding: {
      y: { field: 'param', type: 'nominal', sort: '-x', title: null },
      x: { field: 'importance', type: 'quantitative', title: 'Importance', scale: { domain: [0, 1] } },
    },
    config: CONFIG,
  } as TopLevelSpec;
  return { id: 'param-importance', title: 'Parameter importance', caption: 'Share of the score variance explained by each parameter alone.', spec };
}

export async function renderTunePlots(input: TunePlotInput, scale = 2): Promise<RenderedPlot[]> {
  const out: RenderedPlot[] = [];
  for (const spec of buildTunePlotSpecs(input)) out.push(await renderPlot(spec, scale));
  return out;
}

/** Renders and writes `<id>.svg` and `<id>.png` for every plot into `dir`. */
export async function writeTunePlots(dir: string, input: TunePlotInput): Promise<{ id: string; svg: string; png: string }[]> {
  return writePlotFiles(dir, await renderTunePlots(input));
}
