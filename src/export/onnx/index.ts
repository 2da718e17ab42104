/**
 * ONNX export of a fitted model (what `writeModelPackage` stores as model.json's twin, model.onnx), in the
 * convention src/serve/runtime.ts reads:
 *   input          float32 [N, nFeatures], NaN = missing (the pipeline's imputation is in the graph)
 *   probabilities  double [N, nClasses] (classifiers), class-index order, = predictProba
 *   label          int64 [N] (classifiers), argmax of probabilities with the first-index tie rule, = predict
 *   variable       double [N, 1] (regressors), = predict
 * The contract: for inputs that are float32-representable, outputs equal spotml's native predict up to
 * double rounding (tree splits are decided exactly, see float32.ts; arithmetic runs in double). serve feeds
 * float32, so other inputs are first rounded to float32, as any float32 ONNX consumer does.
 *
 * Exported: the tabular families whose predict is a fixed graph (trees, gbdt, linear and logistic
 * regression, gaussian_nb, svm regression, mlp), each optionally inside the preprocessing pipeline, and
 * weighted ensembles of them (each member's subgraph, then the weighted sum). cnn goes through dl.ts.
 * `onnxSupport` says why anything else is not exported.
 */
import { SpotmlError } from '../../errors.js';
import { EnsembleModel } from '../../learners/ensemble.js';
import { GbdtModel } from '../../learners/gbdt/index.js';
import { MlpModel } from '../../learners/mlp.js';
import { PipelineModel } from '../../learners/preprocess.js';
import { AveragedTreesModel } from '../../learners/tree/ensemble.js';
import type { FittedModel } from '../../learners/types.js';
import { SPOTML_VERSION } from '../../version.js';
import { canExportDl, exportDlOnnx } from './dl.js';
import { denseFeatures, type FeatureSource } from './features.js';
import { GraphBuilder, ML_DOMAIN, ONNX_ML_OPSET, ONNX_OPSET } from './graph.js';
import { emitGaussianNb, emitLinearRegression, emitLogistic, emitMlp, emitSvmRegression, emitSvmVote, svmVotes } from './linear.js';
import { TensorType, attr, encodeModel, type TensorTypeCode } from './proto.js';
import { emitAveragedTrees, emitGbdt } from './trees.js';

export const ONNX_INPUT = 'input';
export const ONNX_PROBABILITIES = 'probabilities';
export const ONNX_LABEL = 'label';
export const ONNX_VARIABLE = 'variable';

export type OnnxSupport = { readonly exportable: true } | { readonly exportable: false; readonly reason: string };

/** One graph input or output, as the MLmodel tensor signature describes it. */
export interface OnnxTensorSpec {
  readonly name: string;
  readonly dtype: 'float32' | 'float64' | 'int64';
  /** -1 = any number of rows. */
  readonly shape: readonly number[];
}

export interface OnnxExport {
  readonly bytes: Uint8Array;
  readonly inputs: readonly OnnxTensorSpec[];
  readonly outputs: readonly OnnxTensorSpec[];
}

/** Why each non-exporting family cannot be expressed as a fixed graph that matches its predict. */
const NOT_EXPORTED: Readonly<Record<string, string>> = {
  knn: 'knn predicts by searching the stored training rows; an ONNX TopK graph cannot promise its neighbour tie order',
};

const SVM_CLASSIFIER_REASON =
  'svm classifiers predict by one-vs-one vote, which is not a probability output, and their Platt probabilities are coupled by an iterative solver; only svm regression (and vote-only svm members of an ensemble) export';

/** Whether `exportOnnx` can export this model, and why not when it cannot. */
export function onnxSupport(model: FittedModel): OnnxSupport {
  if (viaDlExporter(model)) return { exportable: true };
  const reason = unsupported(model, false);
  return reason === null ? { exportable: true } : { exportable: false, reason };
}

/** Frame models (cnn) go through dl.ts; tabular mlp models go through this file's composer like every family. */
function viaDlExporter(model: FittedModel): boolean {
  return !(model instanceof EnsembleModel) && canExportDl(model) && !(innerOf(model) instanceof MlpModel);
}

function innerOf(model: FittedModel): FittedModel {
  return model instanceof PipelineModel ? model.model : model;
}

function unsupported(model: FittedModel, asMember: boolean): string | null {
  if (model instanceof EnsembleModel) {
    for (const member of model.members) {
      const reason = unsupported(member, true);
      if (reason !== null) return `ensemble member ${innerOf(member).family}: ${reason}`;
    }
    return null;
  }
  const inner = innerOf(model);
  if (inner instanceof AveragedTreesModel || inner instanceof GbdtModel || inner instanceof MlpModel) return null;
  switch (inner.family) {
    case 'logistic_regression':
    case 'linear_regression':
    case 'gaussian_nb':
      return null;
    case 'svm':
      return inner.task === 'regression' || (asMember && svmVotes(inner)) ? null : SVM_CLASSIFIER_REASON;
    default:
      return NOT_EXPORTED[inner.family] ?? `${inner.family} models have no ONNX exporter`;
  }
}

/**
 * The model as ONNX bytes plus its input/output description. Throws a USAGE SpotmlError naming the reason
 * when the model does not export (check `onnxSupport` first to skip quietly).
 */
export function exportOnnx(model: FittedModel): OnnxExport {
  if (viaDlExporter(model)) {
    // dl.ts writes float32 outputs.
    const classifier = model.task === 'classification';
    return {
      bytes: exportDlOnnx(model),
      inputs: [{ name: ONNX_INPUT, dtype: 'float32', shape: [-1, model.nFeatures] }],
      outputs: [{ name: classifier ? ONNX_PROBABILITIES : ONNX_VARIABLE, dtype: 'float32', shape: [-1, classifier ? (model.nClasses as number) : 1] }],
    };
  }
  const reason = unsupported(model, false);
  if (reason !== null) throw new SpotmlError('USAGE', `cannot export this model to ONNX: ${reason}; serve it with --runtime native`, { family: model.family });

  const g = new GraphBuilder();
  const result = emitModel(g, model, ONNX_INPUT);
  const classifier = model.task === 'classification';
  const k = classifier ? (model.nClasses as number) : 1;
  const outputs: { name: string; elemType: TensorTypeCode; shape: (number | string)[] }[] = [];
  if (classifier) {
    g.node('Identity', [result], [ONNX_PROBABILITIES]);
    g.node('ArgMax', [result], [ONNX_LABEL], { axis: attr.int(1), keepdims: attr.int(0) });
    outputs.push({ name: ONNX_PROBABILITIES, elemType: TensorType.DOUBLE, shape: ['N', k] });
    outputs.push({ name: ONNX_LABEL, elemType: TensorType.INT64, shape: ['N'] });
  } else {
    g.node('Identity', [result], [ONNX_VARIABLE]);
    outputs.push({ name: ONNX_VARIABLE, elemType: TensorType.DOUBLE, shape: ['N', 1] });
  }
  const family = describe(model);
  const bytes = encodeModel({
    producerName: 'spotml',
    producerVersion: SPOTML_VERSION,
    opsets: [
      { domain: '', version: ONNX_OPSET },
      { domain: ML_DOMAIN, version: ONNX_ML_OPSET },
    ],
    docString: `spotml ${family} ${model.task}; input float32 [N, ${model.nFeatures}] with NaN for missing values`,
    metadata: { family, task: model.task, spotml_version: SPOTML_VERSION },
    graph: {
      name: `spotml_${model.family}`,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [{ name: ONNX_INPUT, elemType: TensorType.FLOAT, shape: ['N', model.nFeatures] }],
      outputs,
    },
  });
  return {
    bytes,
    inputs: [{ name: ONNX_INPUT, dtype: 'float32', shape: [-1, model.nFeatures] }],
    outputs: classifier
      ? [
          { name: ONNX_PROBABILITIES, dtype: 'float64', shape: [-1, k] },
          { name: ONNX_LABEL, dtype: 'int64', shape: [-1] },
        ]
      : [{ name: ONNX_VARIABLE, dtype: 'float64', shape: [-1, 1] }],
  };
}

function describe(model: FittedModel): string {
  if (model instanceof EnsembleModel) return `ensemble(${model.members.map(describe).join(',')})`;
  return model instanceof PipelineModel ? `pipeline(${model.model.family})` : model.family;
}

/**
 * A model's contribution as double [N, K] (what an ensemble averages: predictProba, or a one-hot predict for
 * a classifier without probabilities) or [N, 1] (regression).
 */
function emitModel(g: GraphBuilder, model: FittedModel, input: string): string {
  if (model instanceof EnsembleModel) return emitEnsemble(g, model, input);
  const inner = innerOf(model);
  const source: FeatureSource = { input, preprocessor: model instanceof PipelineModel ? model.preprocessor.state : null };
  if (inner instanceof AveragedTreesModel) return emitAveragedTrees(g, inner, source);
  if (inner instanceof GbdtModel) return emitGbdt(g, inner, source);
  const x = denseFeatures(g, source);
  if (inner instanceof MlpModel) return emitMlp(g, inner, x);
  switch (inner.family) {
    case 'logistic_regression':
      return emitLogistic(g, inner, x);
    case 'linear_regression':
      return emitLinearRegression(g, inner, x);
    case 'gaussian_nb':
      return emitGaussianNb(g, inner, x);
    case 'svm':
      return inner.task === 'regression' ? emitSvmRegression(g, inner, x) : emitSvmVote(g, inner, x);
    default:
      throw new SpotmlError('INTERNAL', `no ONNX emitter for ${inner.family}`);
  }
}

/** Σ weight · member output, in member order as EnsembleModel sums. */
function emitEnsemble(g: GraphBuilder, model: EnsembleModel, input: string): string {
  const terms = model.members.map((member, j) => g.op('Mul', [emitModel(g, member, input), g.double('member_weight', [], [model.weights[j]])]));
  return terms.length === 1 ? terms[0] : g.op('Sum', terms);
}
