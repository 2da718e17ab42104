/**
 * Runtimes a served model predicts with, behind one small interface.
 *
 * - `native`: spotml's own FittedModel (model.json), synchronous, no copies beyond the result.
 * - `onnx`: the package's `model.onnx` through onnxruntime-node (loaded lazily, so the native path never pays
 *   for it). The ONNX convention spotml reads: one float tensor input [N, nFeatures] (float32 or double, as the
 *   graph declares); for classifiers a 2-D output [N, nClasses] of class probabilities in class-index order
 *   (the class is its argmax, with numpy's first-index tie rule, exactly as the native predict); for regressors
 *   one output of shape [N] or [N, 1]. Other outputs (e.g. a `label` tensor) are ignored.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import type { FittedModel, Task } from '../learners/types.js';
import { labelsAndProba } from '../learners/preprocess.js';

export const RUNTIMES = ['native', 'onnx'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** `auto` serves a package's model.onnx when it has one and spotml's native predict otherwise. */
export type RuntimeChoice = RuntimeName | 'auto';
/**
 * The default is the faster runtime in `npm run bench:serve` (bench-results/serve.json, 300-tree forest):
 * native, for single rows and 1,000-row batches alike.
 */
export const DEFAULT_RUNTIME: RuntimeChoice = 'native';

export function hasOnnxFile(dir: string): boolean {
  return existsSync(join(dir, ONNX_FILE));
}

export const ONNX_FILE = 'model.onnx';

export interface Prediction {
  /** Class index (classification) or value (regression) per row. */
  readonly values: Float64Array;
  /** rows × nClasses, when asked for and the model has probabilities. */
  readonly proba: Matrix | null;
}

export interface Predictor {
  readonly runtime: RuntimeName;
  /** True when `predict(X, true)` can return probabilities. */
  readonly hasProba: boolean;
  predict(X: Matrix, withProba: boolean): Prediction | Promise<Prediction>;
  close(): Promise<void>;
}

export function nativePredictor(model: FittedModel): Predictor {
  const proba = model.task === 'classification' && typeof model.predictProba === 'function' ? model.predictProba.bind(model) : null;
  return {
    runtime: 'native',
    hasProba: proba !== null,
    predict(X: Matrix, withProba: boolean): Prediction {
      if (!withProba || proba === null) return { values: model.predict(X), proba: null };
      const both = labelsAndProba(model, X);
      return { values: both.labels, proba: both.proba };
    },
    close: () => Promise.resolve(),
  };
}

// ---------------------------------------------------------------- onnx

type Ort = typeof import('onnxruntime-node');
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

let ortModule: Promise<Ort> | undefined;

function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node');
  return ortModule;
}

interface OnnxShapeFacts {
  inputName: string;
  inputType: 'float32' | 'float64';
  /** The output predictions come from. */
  outputName: string;
}

function inspectSession(session: Session, task: Task, nFeatures: number, nClasses: number | undefined, file: string): OnnxShapeFacts {
  const input = session.inputMetadata[0];
  if (session.inputMetadata.length !== 1 || !input?.isTensor) {
    throw new SpotmlError('INVALID_INPUT', `${file}: expected one tensor input [N, ${nFeatures}], found ${session.inputMetadata.length} inputs`, { file });
  }
  if (input.type !== 'float32' && input.type !== 'float64') {
    throw new SpotmlError('INVALID_INPUT', `${file}: input "${input.name}" is ${input.type}; spotml feeds float32 or double features`, { file });
  }
  const width = input.shape[1];
  if (input.shape.length !== 2 || (typeof width === 'number' && width !== nFeatures)) {
    throw new SpotmlError('INVALID_INPUT', `${file}: input "${input.name}" has shape [${input.shape.join(', ')}], the package has ${nFeatures} features`, { file });
  }
  const tensors = session.outputMetadata.filter((o): o is Extract<typeof o, { isTensor: true }> => o.isTensor);
  const numeric = tensors.filter((o) => o.type === 'float32' || o.type === 'float64');
  let output: (typeof numeric)[number] | undefined;
  if (task === 'classification') {
    output = numeric.find((o) => o.shape.length === 2 && (typeof o.shape[1] !== 'number' || o.shape[1] === nClasses));
    if (!output) throw new SpotmlError('INVALID_INPUT', `${file}: no [N, ${String(nClasses)}] probability output; re-export the model`, { file });
  } else {
    output = numeric.find((o) => o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1));
    if (!output) throw new SpotmlError('INVALID_INPUT', `${file}: no [N] or [N, 1] prediction output; re-export the model`, { file });
  }
  return { inputName: input.name, inputType: input.type, outputName: output.name };
}

/** Opens `<dir>/model.onnx`; a package without one is a clear usage error. */
export async function onnxPredictor(dir: string, task: Task, nFeatures: number, nClasses: number | undefined, threads = 1): Promise<Predictor> {
  const file = join(dir, ONNX_FILE);
  if (!existsSync(file)) {
    throw new SpotmlError('USAGE', `--runtime onnx: the model package ${dir} has no ${ONNX_FILE}; export it to ONNX first or serve with --runtime native`, {
      dir,
    });
  }
  const ort = await loadOrt();
  let session: Session;
  try {
    session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new SpotmlError('INVALID_INPUT', `${file} cannot be loaded by onnxruntime (${(err as Error).message.split('\n')[0]})`, { file });
  }
  const facts = inspectSession(session, task, nFeatures, nClasses, file);
  const classes = nClasses ?? 0;
  const run = async (X: Matrix): Promise<Float64Array | Float32Array> => {
    const values = facts.inputType === 'float32' ? Float32Array.from(X.data) : X.data;
    const tensor = new ort.Tensor(facts.inputType, values, [X.rows, X.cols]);
    const outputs = await session.run({ [facts.inputName]: tensor }, [facts.outputName]);
    const out = outputs[facts.outputName];
    const data = out.data;
    if (!(data instanceof Float32Array || data instanceof Float64Array)) throw new SpotmlError('INTERNAL', `${file}: output is not a float tensor`);
    const expected = X.rows * (task === 'classification' ? classes : 1);
    if (data.length !== expected) throw new SpotmlError('INTERNAL', `${file}: output has ${data.length} values, expected ${expected}`);
    return data;
  };
  return {
    runtime: 'onnx',
    hasProba: task === 'classification',
    async predict(X: Matrix, withProba: boolean): Promise<Prediction> {
      const data = await run(X);
      if (task !== 'classification') return { values: Float64Array.from(data), proba: null };
      const values = new Float64Array(X.rows);
      for (let r = 0; r < X.rows; r++) {
        const o = r * classes;
        let best = 0;
        for (let k = 1; k < classes; k++) if (data[o + k] > data[o + best]) best = k;
        values[r] = best;
      }
      return { values, proba: withProba ? createMatrix(X.rows, classes, Float64Array.from(data)) : null };
    },
    close: () => session.release(),
  };
}
