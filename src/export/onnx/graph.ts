/**
 * A graph under construction for the classical-family exporters: nodes and initializers in order, fresh
 * value names, and typed constants. Arithmetic after the input cast runs in double, so a served model matches
 * spotml's float64 predict up to the float32 rounding of the input itself (the serving contract).
 */
import { TensorType, floatTensor, int64Tensor, type NodeProto, type TensorProto } from './proto.js';

/** The default-domain opset the exporters write (ReduceSum/Squeeze take axes as inputs from 13 on). */
export const ONNX_OPSET = 13;
/** ai.onnx.ml opset 3: TreeEnsembleRegressor with nodes_missing_value_tracks_true. */
export const ONNX_ML_OPSET = 3;
export const ML_DOMAIN = 'ai.onnx.ml';

export function doubleTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return { name, dims, dataType: TensorType.DOUBLE, raw };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;

  /** A value name no other node or initializer uses. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes?: NodeProto['attributes'], domain?: string): void {
    this.nodes.push({
      opType,
      inputs,
      outputs,
      name: `${opType}_${this.nodes.length}`,
      ...(attributes ? { attributes } : {}),
      ...(domain ? { domain } : {}),
    });
  }

  /** A one-output node; returns the output's name. */
  op(opType: string, inputs: readonly string[], attributes?: NodeProto['attributes'], domain?: string): string {
    const out = this.fresh(opType.toLowerCase());
    this.node(opType, inputs, [out], attributes, domain);
    return out;
  }

  double(prefix: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.add(doubleTensor(this.fresh(prefix), dims, values));
  }

  float(prefix: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.add(floatTensor(this.fresh(prefix), dims, values));
  }

  int64(prefix: string, dims: readonly number[], values: readonly number[]): string {
    return this.add(int64Tensor(this.fresh(prefix), dims, values));
  }

  private add(tensor: TensorProto): string {
    this.initializers.push(tensor);
    return tensor.name;
  }
}
