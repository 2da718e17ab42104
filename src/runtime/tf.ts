/**
 * The compute backend for the deep-learning families, chosen once per process and loaded lazily, so the
 * CLI and every non-DL command never pay for TensorFlow.js.
 *
 * Order for `--device auto`: @tensorflow/tfjs-node-gpu when it is installed and libtensorflow sees a CUDA
 * device, then @tensorflow/tfjs-node (libtensorflow on the CPU), then @tensorflow/tfjs-backend-wasm
 * (XNNPACK with SIMD), then the pure-JavaScript CPU backend. The two tfjs-node packages are optional peer
 * dependencies: a missing one is skipped under `auto` and is a clear error when asked for by name.
 *
 * The device reaches worker threads through SPOTML_DEVICE (the CLI sets it from `--device`), so trial
 * workers take the same backend as the main thread.
 */
import { SpotmlError } from '../errors.js';

export type Tf = typeof import('@tensorflow/tfjs');

export const DEVICES = ['auto', 'gpu', 'node', 'wasm', 'cpu'] as const;
export type Device = (typeof DEVICES)[number];

/** tfjs's own names for the backends we use. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface TfRuntime {
  readonly tf: Tf;
  readonly backend: BackendName;
  /** The package that provides the backend. */
  readonly packageName: string;
  /** Whether the kernels run on a CUDA GPU. */
  readonly gpu: boolean;
  /** One line for the user: what was taken, and why when something was skipped. */
  readonly description: string;
}

/** CUDA and cuDNN versions the libtensorflow 2.9.1 inside @tensorflow/tfjs-node-gpu 4.x is built against. */
export const GPU_REQUIREMENTS = { packageName: '@tensorflow/tfjs-node-gpu', cuda: '11.2', cudnn: '8.1' } as const;

export const WASM_THREADS_NOTE = 'single-threaded: tfjs-backend-wasm disables its threaded build under Node.js';

/** How the chooser reaches optional packages; tests substitute one that simulates what is installed. */
export interface ModuleLoader {
  /** Imports a package; rejects with the import error when it is absent or fails to load. */
  load(name: string): Promise<unknown>;
}

const nodeLoader: ModuleLoader = { load: (name) => import(name) as Promise<unknown> };

let current: Promise<TfRuntime> | undefined;
let currentDevice: Device | undefined;

/** The device asked for by the environment (SPOTML_DEVICE), `auto` when unset. */
export function deviceFromEnv(env: NodeJS.ProcessEnv = process.env): Device {
  const raw = (env.SPOTML_DEVICE ?? 'auto').trim().toLowerCase();
  return parseDevice(raw, 'SPOTML_DEVICE');
}

export function parseDevice(raw: string, source = '--device'): Device {
  if ((DEVICES as readonly string[]).includes(raw)) return raw as Device;
  throw new SpotmlError('USAGE', `${source} ${raw} is not a device; use one of ${DEVICES.join(', ')}`, { flag: source });
}

/**
 * The process's TensorFlow.js runtime. Without a device: the one already loaded, else SPOTML_DEVICE's
 * (default auto) — so the families follow whatever the CLI, a benchmark or a test chose. With a device: that
 * one, loaded and initialised on first use; a different device than the current one switches the global
 * tfjs engine (benchmarks compare backends in one process).
 */
export function getTf(device?: Device, loader: ModuleLoader = nodeLoader): Promise<TfRuntime> {
  if (device === undefined) {
    if (current !== undefined) return current;
    device = deviceFromEnv();
  }
  if (current !== undefined && currentDevice === device) return current;
  currentDevice = device;
  const attempt = chooseBackend(device, loader);
  current = attempt;
  // A failed choice is not cached: the user may install the package and retry in the same process (tests do).
  attempt.catch(() => {
    if (current === attempt) {
      current = undefined;
      currentDevice = undefined;
    }
  });
  return attempt;
}

/** True once a DL family has loaded tfjs in this process (the CLI start-up test checks it stays false). */
export function tfLoaded(): boolean {
  return current !== undefined;
}

/** Picks and initialises a backend for `device`; exported with its loader for the unit tests. */
export async function chooseBackend(device: Device, loader: ModuleLoader): Promise<TfRuntime> {
  const skipped: string[] = [];
  if (device === 'gpu' || device === 'auto') {
    const gpu = await tryNodeBackend(GPU_REQUIREMENTS.packageName, loader);
    if (gpu.ok && gpu.usesGpu) return nodeRuntime(gpu.tf, GPU_REQUIREMENTS.packageName, true, skipped);
    const reason = gpu.ok ? 'installed, but libtensorflow sees no CUDA GPU' : gpu.reason;
    if (device === 'gpu') {
      throw new SpotmlError(
        'USAGE',
        `--device gpu: no usable GPU (${GPU_REQUIREMENTS.packageName} ${reason}); install ${GPU_REQUIREMENTS.packageName} on Linux x64 with an NVIDIA driver, CUDA ${GPU_REQUIREMENTS.cuda} and cuDNN ${GPU_REQUIREMENTS.cudnn}, or use --device auto`,
        { device, package: GPU_REQUIREMENTS.packageName, cuda: GPU_REQUIREMENTS.cuda, cudnn: GPU_REQUIREMENTS.cudnn, reason },
      );
    }
    // The GPU package registers the same 'tensorflow' backend on the CPU: good enough as the next choice.
    if (gpu.ok) return nodeRuntime(gpu.tf, GPU_REQUIREMENTS.packageName, false, [`GPU: ${reason}`]);
    skipped.push(`GPU: ${GPU_REQUIREMENTS.packageName} ${reason}`);
  }
  if (device === 'node' || device === 'auto') {
    const cpuNode = await tryNodeBackend('@tensorflow/tfjs-node', loader);
    if (cpuNode.ok) return nodeRuntime(cpuNode.tf, '@tensorflow/tfjs-node', false, skipped);
    if (device === 'node') {
      throw new SpotmlError('USAGE', `--device node: @tensorflow/tfjs-node ${cpuNode.reason}; install it (npm install @tensorflow/tfjs-node) or use --device wasm`, {
        device,
        package: '@tensorflow/tfjs-node',
      });
    }
    skipped.push(`@tensorflow/tfjs-node ${cpuNode.reason}`);
  }
  const tf = (await loader.load('@tensorflow/tfjs')) as Tf;
  // The CPU backend's "install tfjs-node" banner is replaced by our own one-line description.
  tf.enableProdMode();
  if (device === 'wasm' || device === 'auto') {
    const wasm = await tryWasm(tf, loader);
    if (wasm.ok) {
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      return {
        tf,
        backend: 'wasm',
        packageName: '@tensorflow/tfjs-backend-wasm',
        gpu: false,
        description: describe(`wasm (@tensorflow/tfjs-backend-wasm, ${simd === true ? 'SIMD' : 'no SIMD'}, ${WASM_THREADS_NOTE})`, skipped),
      };
    }
    if (device === 'wasm') {
      throw new SpotmlError('USAGE', `--device wasm: @tensorflow/tfjs-backend-wasm could not start (${wasm.reason}); reinstall spotml or use --device cpu`, { device });
    }
    skipped.push(`wasm: ${wasm.reason}`);
  }
  if (!(await tf.setBackend('cpu'))) throw new SpotmlError('INTERNAL', 'the TensorFlow.js CPU backend failed to start', {});
  await tf.ready();
  return { tf, backend: 'cpu', packageName: '@tensorflow/tfjs', gpu: false, description: describe('cpu (pure JavaScript, slowest)', skipped) };
}

type NodeAttempt = { ok: true; tf: Tf; usesGpu: boolean } | { ok: false; reason: string };

async function tryNodeBackend(packageName: string, loader: ModuleLoader): Promise<NodeAttempt> {
  let tf: Tf;
  try {
    tf = (await loader.load(packageName)) as Tf;
  } catch (err) {
    return { ok: false, reason: notLoadedReason(err) };
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return { ok: false, reason: 'loaded but its backend did not start' };
    await tf.ready();
  } catch (err) {
    return { ok: false, reason: `failed to start (${firstLine(err)})` };
  }
  return { ok: true, tf, usesGpu: backendUsesGpu(tf.backend()) };
}

/** tfjs-node's backend reports whether libtensorflow placed ops on a GPU. */
export function backendUsesGpu(backend: unknown): boolean {
  return typeof backend === 'object' && backend !== null && (backend as { isUsingGpuDevice?: unknown }).isUsingGpuDevice === true;
}

async function tryWasm(tf: Tf, loader: ModuleLoader): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await loader.load('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) return { ok: false, reason: 'the WebAssembly module did not initialise' };
    await tf.ready();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: firstLine(err) };
  }
}

function nodeRuntime(tf: Tf, packageName: string, gpu: boolean, skipped: readonly string[]): TfRuntime {
  return {
    tf,
    backend: 'tensorflow',
    packageName,
    gpu,
    description: describe(`tensorflow (${packageName}, ${gpu ? 'CUDA GPU' : 'CPU'})`, skipped),
  };
}

function describe(taken: string, skipped: readonly string[]): string {
  return skipped.length === 0 ? `compute backend: ${taken}` : `compute backend: ${taken}; skipped ${skipped.join('; ')}`;
}

function notLoadedReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'is not installed';
  return `failed to load (${firstLine(err)})`;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].slice(0, 200);
}
