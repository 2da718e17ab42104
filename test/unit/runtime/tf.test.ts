/**
 * The compute-backend chooser: the order (tfjs-node-gpu with a visible GPU → tfjs-node → wasm → cpu), the
 * errors for a device that cannot be had, and lazy loading. The tfjs-node packages cannot be installed here,
 * so they are simulated by a loader that returns a stand-in backend; wasm and cpu are the real ones.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SpotmlError } from '../../../src/errors.js';
import { GPU_REQUIREMENTS, backendUsesGpu, chooseBackend, deviceFromEnv, getTf, parseDevice, type ModuleLoader } from '../../../src/runtime/tf.js';

/** A stand-in for a tfjs-node package: registers 'tensorflow' and reports GPU use as told. */
function fakeNodeTf(usesGpu: boolean): unknown {
  let active = '';
  return {
    setBackend: async (name: string) => {
      active = name;
      return name === 'tensorflow';
    },
    ready: async () => {},
    getBackend: () => active,
    backend: () => ({ isUsingGpuDevice: usesGpu }),
  };
}

function notInstalled(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' });
}

/** Real imports for tfjs and the wasm backend; the tfjs-node packages as `installed` says. */
function loader(installed: Record<string, unknown>): ModuleLoader {
  return {
    load: async (name) => {
      if (name in installed) {
        const value = installed[name];
        if (value instanceof Error) throw value;
        return value;
      }
      if (name.startsWith('@tensorflow/tfjs-node')) throw notInstalled(name);
      return import(name) as Promise<unknown>;
    },
  };
}

async function errorOf(action: () => Promise<unknown>): Promise<SpotmlError> {
  try {
    await action();
  } catch (err) {
    expect(err).toBeInstanceOf(SpotmlError);
    return err as SpotmlError;
  }
  throw new Error('expected an error');
}

describe('chooseBackend', () => {
  it('auto with neither tfjs-node package takes wasm (SIMD), saying what it skipped', async () => {
    const runtime = await chooseBackend('auto', loader({}));
    expect(runtime.backend).toBe('wasm');
    expect(runtime.tf.getBackend()).toBe('wasm');
    expect(runtime.gpu).toBe(false);
    expect(runtime.description).toMatch(/^compute backend: wasm .*SIMD/);
    expect(runtime.description).toContain('@tensorflow/tfjs-node-gpu is not installed');
    expect(runtime.description).toContain('@tensorflow/tfjs-node is not installed');
  });

  it('auto prefers tfjs-node-gpu when libtensorflow sees a GPU', async () => {
    const runtime = await chooseBackend('auto', loader({ '@tensorflow/tfjs-node-gpu': fakeNodeTf(true), '@tensorflow/tfjs-node': fakeNodeTf(false) }));
    expect(runtime).toMatchObject({ backend: 'tensorflow', packageName: '@tensorflow/tfjs-node-gpu', gpu: true });
    expect(runtime.description).toBe('compute backend: tensorflow (@tensorflow/tfjs-node-gpu, CUDA GPU)');
  });

  it('auto takes tfjs-node when the GPU package is absent', async () => {
    const runtime = await chooseBackend('auto', loader({ '@tensorflow/tfjs-node': fakeNodeTf(false) }));
    expect(runtime).toMatchObject({ backend: 'tensorflow', packageName: '@tensorflow/tfjs-node', gpu: false });
  });

  it('auto keeps the GPU package on the CPU when it sees no GPU, and says so', async () => {
    const runtime = await chooseBackend('auto', loader({ '@tensorflow/tfjs-node-gpu': fakeNodeTf(false) }));
    expect(runtime).toMatchObject({ backend: 'tensorflow', gpu: false });
    expect(runtime.description).toContain('sees no CUDA GPU');
  });

  it('auto skips a GPU package whose CUDA libraries fail to load', async () => {
    const broken = new Error('libcudart.so.11.0: cannot open shared object file');
    const runtime = await chooseBackend('auto', loader({ '@tensorflow/tfjs-node-gpu': broken }));
    expect(runtime.backend).toBe('wasm');
    expect(runtime.description).toContain('failed to load (libcudart.so.11.0');
  });

  it('--device gpu without a usable GPU is a clear error naming the package, CUDA and cuDNN', async () => {
    for (const installed of [{}, { '@tensorflow/tfjs-node-gpu': fakeNodeTf(false) }]) {
      const error = await errorOf(() => chooseBackend('gpu', loader(installed)));
      expect(error.code).toBe('USAGE');
      expect(error.message).toContain(GPU_REQUIREMENTS.packageName);
      expect(error.message).toContain(`CUDA ${GPU_REQUIREMENTS.cuda}`);
      expect(error.message).toContain(`cuDNN ${GPU_REQUIREMENTS.cudnn}`);
      expect(error.message).not.toContain('\n');
    }
  });

  it('--device gpu with a GPU takes it', async () => {
    const runtime = await chooseBackend('gpu', loader({ '@tensorflow/tfjs-node-gpu': fakeNodeTf(true) }));
    expect(runtime.gpu).toBe(true);
  });

  it('--device node without tfjs-node is a clear error', async () => {
    const error = await errorOf(() => chooseBackend('node', loader({})));
    expect(error.message).toMatch(/@tensorflow\/tfjs-node is not installed; install it/);
  });

  it('--device cpu takes the pure-JS backend, --device wasm the wasm one', async () => {
    const cpu = await chooseBackend('cpu', loader({}));
    expect(cpu.backend).toBe('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    const wasm = await chooseBackend('wasm', loader({}));
    expect(wasm.tf.getBackend()).toBe('wasm');
  });
});

describe('device parsing and caching', () => {
  it('reads SPOTML_DEVICE, defaulting to auto, and rejects unknown devices', () => {
    expect(deviceFromEnv({})).toBe('auto');
    expect(deviceFromEnv({ SPOTML_DEVICE: 'CPU' })).toBe('cpu');
    expect(parseDevice('wasm')).toBe('wasm');
    expect(() => parseDevice('tpu')).toThrow(/--device tpu is not a device; use one of auto, gpu, node, wasm, cpu/);
  });

  it('getTf reuses the runtime for the same device and switches for another', async () => {
    const a = await getTf('wasm');
    expect(await getTf('wasm')).toBe(a);
    const cpu = await getTf('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    expect((await getTf('wasm')).tf.getBackend()).toBe('wasm');
  });

  it('backendUsesGpu reads tfjs-node’s flag only when it is true', () => {
    expect(backendUsesGpu({ isUsingGpuDevice: true })).toBe(true);
    expect(backendUsesGpu({ isUsingGpuDevice: false })).toBe(false);
    expect(backendUsesGpu({})).toBe(false);
    expect(backendUsesGpu(null)).toBe(false);
  });
});

describe('lazy loading', () => {
  it('importing the catalogue, the families and the CLI commands does not load TensorFlow.js; fitting does', () => {
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@tensorflow'));
      await import('./src/learners/catalogue.ts');
      await import('./src/cli/commands/index.ts');
      const before = loaded();
      const { getTf } = await import('./src/runtime/tf.ts');
      await getTf('cpu');
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({ before: false, after: true });
  });
});
