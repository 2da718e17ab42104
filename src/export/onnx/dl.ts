/**
 * ONNX export of the deep-learning families (opset 13, standard operators only), so `serve --runtime onnx`
 * runs them: one float32 input `input` [N, nFeatures], output `probabilities` [N, k] (classifiers) or
 * `variable` [N, 1] (regressors), as src/serve/runtime.ts reads.
 *
 * - mlp: Gemm → Relu/Tanh per hidden layer, Gemm, Softmax (or the target's Mul/Add un-scaling);
 * - cnn: Reshape to NCHW, per-band Sub/Div standardisation, per block Conv (batch norm folded in) → Relu →
 *   MaxPool, GlobalAveragePool, Flatten, Gemm, Softmax;
 * - a preprocessing pipeline around either: Where(IsNaN) median imputation, IsNaN indicator columns
 *   (Gather → IsNaN → Cast → Concat), Sub/Div standard scaling.
 * It computes what the families' JavaScript predict computes, from the same (folded) float32 weights.
 */
import { SpotmlError } from '../../errors.js';
import { CnnModel } from '../../learners/cnn.js';
import { MlpModel } from '../../learners/mlp.js';
import { PipelineModel } from '../../learners/preprocess.js';
import type { FittedModel } from '../../learners/types.js';
import { SPOTML_VERSION } from '../../version.js';
import { TensorType, attr, encodeModel, floatTensor, int64Tensor, type NodeProto, type TensorProto } from './proto.js';

export const ONNX_OPSET = 13;

/** True when `exportDlOnnx` can export this model. */
export function canExportDl(model: FittedModel): boolean {
  const inner = model instanceof PipelineModel ? model.model : model;
  return inner instanceof MlpModel || inner instanceof CnnModel;
}

export function exportDlOnnx(model: FittedModel): Uint8Array {
  const graph = new GraphBuilder();
  let current = 'input';
  let inner: FittedModel = model;
  if (model instanceof PipelineModel) {
    current = addPreprocessing(graph, model, current);
    inner = model.model;
  }
  let output: string;
  if (inner instanceof MlpModel) output = addMlp(graph, inner, current);
  else if (inner instanceof CnnModel) output = addCnn(graph, inner, current);
  else {
    throw new SpotmlError('USAGE', `${inner.family} models are not exported by the deep-learning ONNX exporter; export mlp or cnn models here`, { family: inner.family });
  }
  const classifier = inner.task === 'classification';
  const outputName = classifier ? 'probabilities' : 'variable';
  graph.node('Identity', [output], [outputName]);
  return encodeModel({
    producerName: 'spotml',
    producerVersion: SPOTML_VERSION,
    opsets: [{ domain: '', version: ONNX_OPSET }],
    docString: `spotml ${inner.family} ${inner.task}`,
    metadata: { family: inner.family, task: inner.task },
    graph: {
      name: `spotml_${inner.family}`,
      nodes: graph.nodes,
      initializers: graph.initializers,
      inputs: [{ name: 'input', elemType: TensorType.FLOAT, shape: ['N', model.nFeatures] }],
      outputs: [{ name: outputName, elemType: TensorType.FLOAT, shape: ['N', classifier ? (inner.nClasses as number) : 1] }],
    },
  });
}

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  constant(tensor: TensorProto): string {
    this.initializers.push(tensor);
    return tensor.name;
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes?: NodeProto['attributes']): void {
    this.nodes.push({ opType, inputs, outputs, name: `${opType}_${this.nodes.length}`, ...(attributes ? { attributes } : {}) });
  }

  /** One-output node; returns the output name. */
  op(opType: string, inputs: readonly string[], attributes?: NodeProto['attributes']): string {
    const out = this.fresh(opType.toLowerCase());
    this.node(opType, inputs, [out], attributes);
    return out;
  }
}

function addPreprocessing(g: GraphBuilder, pipeline: PipelineModel, input: string): string {
  const { medians, indicatorColumns, means, scales, nInputFeatures } = pipeline.preprocessor.state;
  let current = input;
  if (medians !== null) {
    const isNaN = g.op('IsNaN', [input]);
    current = g.op('Where', [isNaN, g.constant(floatTensor(g.fresh('medians'), [nInputFeatures], medians)), input]);
  }
  if (indicatorColumns.length > 0) {
    const picked = g.op('Gather', [input, g.constant(int64Tensor(g.fresh('indicator_columns'), [indicatorColumns.length], indicatorColumns))], { axis: attr.int(1) });
    const flags = g.op('Cast', [g.op('IsNaN', [picked])], { to: attr.int(TensorType.FLOAT) });
    current = g.op('Concat', [current, flags], { axis: attr.int(1) });
  }
  if (means !== null && scales !== null) {
    const centred = g.op('Sub', [current, g.constant(floatTensor(g.fresh('means'), [means.length], means))]);
    current = g.op('Div', [centred, g.constant(floatTensor(g.fresh('scales'), [scales.length], scales))]);
  }
  return current;
}

function addMlp(g: GraphBuilder, model: MlpModel, input: string): string {
  let current = input;
  model.layers.forEach((layer, l) => {
    const w = g.constant(floatTensor(g.fresh(`dense${l}_w`), [layer.inputs, layer.outputs], layer.weight));
    const b = g.constant(floatTensor(g.fresh(`dense${l}_b`), [layer.outputs], layer.bias));
    current = g.op('Gemm', [current, w, b]);
    if (l < model.layers.length - 1) current = g.op(model.activation === 'relu' ? 'Relu' : 'Tanh', [current]);
  });
  if (model.task === 'classification') return g.op('Softmax', [current], { axis: attr.int(1) });
  const { mean, scale } = model.state.target as { mean: number; scale: number };
  const scaled = g.op('Mul', [current, g.constant(floatTensor(g.fresh('target_scale'), [], [scale]))]);
  return g.op('Add', [scaled, g.constant(floatTensor(g.fresh('target_mean'), [], [mean]))]);
}

function addCnn(g: GraphBuilder, model: CnnModel, input: string): string {
  const shape = g.constant(int64Tensor(g.fresh('patch_shape'), [4], [-1, 1, model.bands, model.frames]));
  let current = g.op('Reshape', [input, shape]);
  current = g.op('Sub', [current, g.constant(floatTensor(g.fresh('band_mean'), [1, 1, model.bands, 1], model.inputMean))]);
  current = g.op('Div', [current, g.constant(floatTensor(g.fresh('band_scale'), [1, 1, model.bands, 1], model.inputScale))]);
  model.folded.forEach((block, b) => {
    const k = block.kernel;
    const pad = (k - 1) / 2;
    const w = g.constant(floatTensor(g.fresh(`conv${b}_w`), [block.outChannels, block.inChannels, k, k], block.weight));
    const bias = g.constant(floatTensor(g.fresh(`conv${b}_b`), [block.outChannels], block.bias));
    current = g.op('Conv', [current, w, bias], { kernel_shape: attr.ints([k, k]), pads: attr.ints([pad, pad, pad, pad]), strides: attr.ints([1, 1]) });
    current = g.op('Relu', [current]);
    if (block.pool[0] > 1 || block.pool[1] > 1) current = g.op('MaxPool', [current], { kernel_shape: attr.ints(block.pool), strides: attr.ints(block.pool) });
  });
  current = g.op('Flatten', [g.op('GlobalAveragePool', [current])], { axis: attr.int(1) });
  const w = g.constant(floatTensor(g.fresh('out_w'), [model.dense.inputs, model.dense.outputs], model.dense.weight));
  const b = g.constant(floatTensor(g.fresh('out_b'), [model.dense.outputs], model.dense.bias));
  return g.op('Softmax', [g.op('Gemm', [current, w, b])], { axis: attr.int(1) });
}
