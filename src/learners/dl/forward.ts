/**
 * Inference in plain JavaScript over the fitted float32 weights, accumulating in float64: every row is
 * computed on its own, so a batch predicts exactly as row by row, and a saved model predicts without
 * loading TensorFlow.js (serving and `evaluate` never pay for it). The ONNX export computes the same graph.
 */

export interface DenseLayer {
  readonly inputs: number;
  readonly outputs: number;
  /** inputs × outputs, row-major (tfjs's [in, out]). */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

export type Activation = 'relu' | 'tanh';

/** out = in · W + b for one row. */
export function denseRow(layer: DenseLayer, input: Float64Array, output: Float64Array): void {
  const { inputs, outputs, weight, bias } = layer;
  for (let j = 0; j < outputs; j++) output[j] = bias[j];
  for (let i = 0; i < inputs; i++) {
    const v = input[i];
    if (v === 0) continue;
    const base = i * outputs;
    for (let j = 0; j < outputs; j++) output[j] += v * weight[base + j];
  }
}

/**
 * A dense layer's weights by output ([out][in], the same float32 values transposed): the row kernels below read
 * each output's weights contiguously and keep its running sum in a register.
 */
export function weightsByOutput(layer: DenseLayer): Float32Array {
  const { inputs, outputs, weight } = layer;
  const out = new Float32Array(inputs * outputs);
  for (let i = 0; i < inputs; i++) for (let j = 0; j < outputs; j++) out[j * inputs + i] = weight[i * outputs + j];
  return out;
}

/**
 * Whether denseRowsByOutput/denseRowByOutput give denseRow's exact doubles for this layer. They add every
 * input's product where denseRow skips zero inputs; a skipped product is ±0 (finite weight), and adding ±0
 * leaves any sum unchanged except −0 + +0. A sum is −0 only if the bias is −0 (a sum of two doubles is −0 only when
 * both are), so finite weights and no −0 bias make the two bit-identical.
 */
export function rowKernelsExact(layer: DenseLayer): boolean {
  for (let i = 0; i < layer.weight.length; i++) if (!Number.isFinite(layer.weight[i])) return false;
  for (let j = 0; j < layer.bias.length; j++) if (Object.is(layer.bias[j], -0)) return false;
  return true;
}

/**
 * out = in · W + b for four rows at once (rows at input[inputAt + r·inputs], results at
 * output[outputAt + r·outputs]): each weight loaded feeds four rows, and every row sums its products in input
 * order from the bias, as denseRow does. `byOutput` is weightsByOutput(layer).
 */
export function denseRowsByOutput(
  inputs: number,
  outputs: number,
  byOutput: Float32Array,
  bias: Float32Array,
  input: Float64Array,
  inputAt: number,
  output: Float64Array,
  outputAt: number,
): void {
  const x0 = inputAt;
  const x1 = x0 + inputs;
  const x2 = x1 + inputs;
  const x3 = x2 + inputs;
  for (let j = 0; j < outputs; j++) {
    let s0 = bias[j];
    let s1 = s0;
    let s2 = s0;
    let s3 = s0;
    const base = j * inputs;
    for (let i = 0; i < inputs; i++) {
      const w = byOutput[base + i];
      s0 += input[x0 + i] * w;
      s1 += input[x1 + i] * w;
      s2 += input[x2 + i] * w;
      s3 += input[x3 + i] * w;
    }
    output[outputAt + j] = s0;
    output[outputAt + outputs + j] = s1;
    output[outputAt + 2 * outputs + j] = s2;
    output[outputAt + 3 * outputs + j] = s3;
  }
}

/** denseRowsByOutput for one row: four outputs at a time share each input value. */
export function denseRowByOutput(
  inputs: number,
  outputs: number,
  byOutput: Float32Array,
  bias: Float32Array,
  input: Float64Array,
  inputAt: number,
  output: Float64Array,
  outputAt: number,
): void {
  let j = 0;
  for (; j + 4 <= outputs; j += 4) {
    let s0 = bias[j];
    let s1 = bias[j + 1];
    let s2 = bias[j + 2];
    let s3 = bias[j + 3];
    const b0 = j * inputs;
    const b1 = b0 + inputs;
    const b2 = b1 + inputs;
    const b3 = b2 + inputs;
    for (let i = 0; i < inputs; i++) {
      const v = input[inputAt + i];
      s0 += v * byOutput[b0 + i];
      s1 += v * byOutput[b1 + i];
      s2 += v * byOutput[b2 + i];
      s3 += v * byOutput[b3 + i];
    }
    output[outputAt + j] = s0;
    output[outputAt + j + 1] = s1;
    output[outputAt + j + 2] = s2;
    output[outputAt + j + 3] = s3;
  }
  for (; j < outputs; j++) {
    let s = bias[j];
    const base = j * inputs;
    for (let i = 0; i < inputs; i++) s += input[inputAt + i] * byOutput[base + i];
    output[outputAt + j] = s;
  }
}

export function activate(values: Float64Array, length: number, activation: Activation): void {
  if (activation === 'relu') {
    for (let i = 0; i < length; i++) if (values[i] < 0) values[i] = 0;
  } else {
    for (let i = 0; i < length; i++) values[i] = Math.tanh(values[i]);
  }
}

/** Softmax of logits[0..k) into out[offset..offset+k). */
export function softmaxInto(logits: Float64Array, k: number, out: Float64Array, offset: number): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) if (logits[c] > max) max = logits[c];
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const e = Math.exp(logits[c] - max);
    out[offset + c] = e;
    sum += e;
  }
  for (let c = 0; c < k; c++) out[offset + c] /= sum;
}

/** A convolution with batch norm folded in: weight [out][in][k][k] (ONNX's OIHW), bias [out]. */
export interface FoldedConv {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

/** 'same' convolution (stride 1, zero padding) + bias + ReLU on a channels-first [C][H][W] map. */
export function convReluSame(conv: FoldedConv, input: Float64Array, height: number, width: number, output: Float64Array): void {
  const { inChannels, outChannels, kernel, weight, bias } = conv;
  const pad = (kernel - 1) >> 1;
  const plane = height * width;
  for (let co = 0; co < outChannels; co++) {
    const outBase = co * plane;
    output.fill(bias[co], outBase, outBase + plane);
    for (let ci = 0; ci < inChannels; ci++) {
      const inBase = ci * plane;
      for (let a = 0; a < kernel; a++) {
        const dy = a - pad;
        const hStart = Math.max(0, -dy);
        const hEnd = Math.min(height, height - dy);
        for (let b = 0; b < kernel; b++) {
          const w = weight[((co * inChannels + ci) * kernel + a) * kernel + b];
          if (w === 0) continue;
          const dx = b - pad;
          const wStart = Math.max(0, -dx);
          const wEnd = Math.min(width, width - dx);
          for (let h = hStart; h < hEnd; h++) {
            const o = outBase + h * width;
            const i = inBase + (h + dy) * width + dx;
            for (let x = wStart; x < wEnd; x++) output[o + x] += w * input[i + x];
          }
        }
      }
    }
    for (let i = outBase; i < outBase + plane; i++) if (output[i] < 0) output[i] = 0;
  }
}

/** Max pooling with window = stride = [ph, pw], floor output size (no padding), channels-first. */
export function maxPool(input: Float64Array, channels: number, height: number, width: number, ph: number, pw: number, output: Float64Array): void {
  const outH = Math.floor(height / ph);
  const outW = Math.floor(width / pw);
  for (let c = 0; c < channels; c++) {
    for (let h = 0; h < outH; h++) {
      for (let w = 0; w < outW; w++) {
        let max = -Infinity;
        for (let a = 0; a < ph; a++) {
          const base = c * height * width + (h * ph + a) * width + w * pw;
          for (let b = 0; b < pw; b++) if (input[base + b] > max) max = input[base + b];
        }
        output[(c * outH + h) * outW + w] = max;
      }
    }
  }
}
