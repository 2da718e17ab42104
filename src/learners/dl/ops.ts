/**
 * tfjs building blocks the families' training forwards share.
 *
 * `conv2dSame` exists because @tensorflow/tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel (and
 * the pure-JS CPU backend's is a very slow loop): the filter gradient is computed instead as a forward
 * convolution of the (padded, transposed) input with the (transposed) output gradient:
 *   dW[a, b, ci, co] = Σ_{n,h,w} xPadded[n, h+a, w+b, ci] · dy[n, h, w, co]
 *                    = conv2d(xPaddedᵀ [ci, H+2p, W+2p, n], dyᵀ [H, W, n, co], valid)[ci, a, b, co].
 */
import type { Tensor, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../../runtime/tf.js';
import type { ForwardContext, RunningStats } from './loop.js';

export const BATCH_NORM_EPSILON = 1e-3;

/** 'same' convolution, stride 1, odd square kernel; x is NHWC, w is [k, k, in, out]. */
export function conv2dSame(tf: Tf, x: Tensor4D, w: Tensor4D): Tensor4D {
  // libtensorflow (tfjs-node, CUDA) has fast native gradients; the wasm and pure-JS backends are faster this way.
  if (tf.getBackend() === 'tensorflow') return tf.conv2d(x, w, 1, 'same');
  const op = tf.customGrad((...args) => {
    const [input, filter, save] = args as [Tensor4D, Tensor4D, (tensors: Tensor[]) => void];
    save([input, filter]);
    return {
      value: tf.conv2d(input, filter, 1, 'same'),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xs, ws] = saved as [Tensor4D, Tensor4D];
        const dy4 = dy as Tensor4D;
        return [conv2dInputGrad(tf, dy4, ws), conv2dFilterGrad(tf, xs, dy4, ws.shape[0])];
      },
    };
  });
  return op(x, w) as Tensor4D;
}

/**
 * The input gradient of a stride-1 'same' convolution with an odd kernel: a 'same' convolution of dy with the
 * kernel rotated by 180° and its channel axes swapped (wasm's own Conv2DBackpropInput is a plain loop,
 * several times slower than its XNNPACK forward convolution).
 */
export function conv2dInputGrad(tf: Tf, dy: Tensor4D, w: Tensor4D): Tensor4D {
  return tf.conv2d(dy, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as Tensor4D, 1, 'same');
}

/** The filter gradient of a stride-1 'same' convolution, by forward convolutions only. */
export function conv2dFilterGrad(tf: Tf, x: Tensor4D, dy: Tensor4D, kernel: number): Tensor4D {
  const pad = (kernel - 1) / 2;
  const padded = tf.pad(x, [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ]);
  const input = tf.transpose(padded, [3, 1, 2, 0]);
  const filter = tf.transpose(dy, [1, 2, 0, 3]);
  return tf.transpose(tf.conv2d(input, filter, 1, 'valid'), [1, 2, 0, 3]);
}

/**
 * Batch normalisation over every axis but the last: batch statistics while training (reported to the loop
 * through `context.moments`, which updates the running statistics), running statistics at inference.
 * The training gradient is written in closed form over a [rows, channels] view (tfjs's generic batchNorm
 * gradient tiles every broadcast, which dominates a wasm training step):
 *   x̂ = (x − μ)·r, r = 1/√(σ² + ε), y = γ·x̂ + β;
 *   dβ = Σ dy, dγ = Σ dy·x̂, dx = (γ·r / N)·(N·dy − dβ − x̂·dγ).
 */
export function batchNorm(tf: Tf, x: Tensor, gamma: Variable, beta: Variable, layer: number, context: ForwardContext): Tensor {
  const channels = x.shape[x.shape.length - 1];
  const flat = tf.reshape(x, [-1, channels]) as Tensor2D;
  if (!context.training) {
    const stats: RunningStats = context.running[layer];
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(tf.tensor1d(stats.variance), BATCH_NORM_EPSILON)));
    const shift = tf.sub(beta, tf.mul(tf.tensor1d(stats.mean), scale));
    return tf.reshape(tf.add(tf.mul(flat, scale), shift), x.shape);
  }
  const { mean, variance } = tf.moments(flat, 0);
  context.moments[layer] = { mean: tf.keep(tf.clone(mean)), variance: tf.keep(tf.clone(variance)) };
  const op = tf.customGrad((...args) => {
    const [input, g, b, save] = args as [Tensor2D, Tensor, Tensor, (tensors: Tensor[]) => void];
    const r = tf.rsqrt(tf.add(variance, BATCH_NORM_EPSILON));
    const normalised = tf.mul(tf.sub(input, mean), r);
    save([normalised, r, g]);
    return {
      value: tf.add(tf.mul(normalised, g), b),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xHat, rs, gs] = saved;
        const n = dy.shape[0];
        const dBeta = tf.sum(dy, 0);
        const dGamma = tf.sum(tf.mul(dy, xHat), 0);
        const inner = tf.sub(tf.sub(tf.mul(dy, n), dBeta), tf.mul(xHat, dGamma));
        return [tf.mul(inner, tf.div(tf.mul(gs, rs), n)), dGamma, dBeta];
      },
    };
  });
  return tf.reshape(op(flat, gamma, beta), x.shape);
}
