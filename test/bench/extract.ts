/**
 * Extract throughput and memory (issue: extract at >= 500x real time for the full default set and
 * >= 1500x for MFCC alone, per CPU-second; < 200 MB peak for a 30-minute file with aggregates only).
 * Audio: 60-second files (an hour by default) cut from the bundled real recordings (fixtures/audio), looped and mixed,
 * 22050 Hz mono 16-bit, so the DSP sees real spectra. Writes bench-results/extract.json.
 *
 * Runs the compiled build (dist/), as the CLI does: worker threads need it, so the multi-thread cases
 * really use several threads. Each case runs REPEATS times and reports the run with the least CPU time
 * (the machine may be shared; CPU-seconds are the measure, wall time is informative only).
 *
 * Peak memory is the child process's VmHWM (Linux): getrusage's ru_maxrss is not usable here, since a child
 * forked from this (large) process inherits its high-water mark across exec.
 * Run: npm run build && npx tsx test/bench/extract.ts
 * Env: SPOTML_DIST=<folder> runs another build (e.g. a private `tsc --outDir`); SPOTML_BENCH_CASES=mfcc|full
 * keeps only the cases whose name starts with it; SPOTML_BENCH_MEMORY=0 skips the 30-minute memory case.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeWavToMono } from '../../src/audio/wav.js';
import { readFileSync } from 'node:fs';
import { resample } from '../../src/audio/resample.js';

const SR = 22050;
const REPEATS = 3;
/**
 * Minutes of audio per case (60-second files): SPOTML_BENCH_MINUTES, default 60. Each run starts its worker
 * threads afresh, and each worker pays a fixed start-up (module load, JIT warm-up: about 0.2 CPU-s, reported
 * separately as workerStartupCpuSeconds); an hour of audio shows the throughput a real corpus sees.
 */
const MINUTES = Number(process.env.SPOTML_BENCH_MINUTES ?? 60);
const DIST_ROOT = process.env.SPOTML_DIST ? pathToFileURL(`${resolve(process.env.SPOTML_DIST)}/`) : new URL('../../dist/', import.meta.url);
const DIST_EXTRACT = new URL('api/extract.js', DIST_ROOT);

type ExtractFn = typeof import('../../src/api/extract.js').extract;

async function loadExtract(): Promise<ExtractFn> {
  if (!existsSync(fileURLToPath(DIST_EXTRACT))) throw new Error('dist/ is missing: run npm run build first');
  return ((await import(DIST_EXTRACT.href)) as { extract: ExtractFn }).extract;
}

function pcm16Wav(samples: Float64Array, sampleRate: number): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** All fixture clips at 22050 Hz mono, for building longer real-audio files. */
function fixtureClips(): Float64Array[] {
  const root = new URL('../../fixtures/audio/', import.meta.url).pathname;
  const clips: Float64Array[] = [];
  for (const cls of readdirSync(root)) {
    for (const file of readdirSync(join(root, cls))) {
      if (!file.endsWith('.wav')) continue;
      const { info, mono } = decodeWavToMono(readFileSync(join(root, cls, file)), file);
      clips.push(info.sampleRate === SR ? Float64Array.from(mono) : resample(mono, info.sampleRate, SR));
    }
  }
  return clips;
}

function longSignal(clips: Float64Array[], seconds: number, offset: number): Float64Array {
  const out = new Float64Array(Math.round(seconds * SR));
  let position = 0;
  let k = offset;
  while (position < out.length) {
    const clip = clips[k % clips.length];
    const layer = clips[(k * 7 + 3) % clips.length];
    for (let i = 0; i < clip.length && position + i < out.length; i++) out[position + i] = 0.7 * clip[i] + 0.3 * (layer[i] ?? 0);
    position += clip.length;
    k++;
  }
  return out;
}

async function measure(extract: ExtractFn, dir: string, out: string, features: string[] | undefined, jobs: number): Promise<{ audioSeconds: number; wallSeconds: number; cpuSeconds: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await extract({ inputs: [dir], out, jobs, cache: false, settings: features ? { features } : {} });
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Worker threads run in this process, so process CPU time covers them too.
  return { audioSeconds: summary.audioSeconds, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'spotml-bench-extract-'));
  const audioDir = join(work, 'audio');
  mkdirSync(audioDir);
  const clips = fixtureClips();
  for (let f = 0; f < MINUTES; f++) writeFileSync(join(audioDir, `track${f}.wav`), pcm16Wav(longSignal(clips, 60, f * 11), SR));
  const threads = Math.max(1, cpus().length);
  const cases: { name: string; features?: string[]; jobs: number }[] = [
    { name: 'mfcc, 1 thread', features: ['mfcc'], jobs: 1 },
    { name: 'full default set, 1 thread', jobs: 1 },
    { name: `mfcc, ${threads} threads`, features: ['mfcc'], jobs: threads },
    { name: `full default set, ${threads} threads`, jobs: threads },
  ];
  const only = process.env.SPOTML_BENCH_CASES;
  if (only) cases.splice(0, cases.length, ...cases.filter((c) => c.name.startsWith(only)));
  const extract = await loadExtract();
  const results = [];
  for (const c of cases) {
    const runs: Awaited<ReturnType<typeof measure>>[] = [];
    for (let i = 0; i < REPEATS; i++) runs.push(await measure(extract, audioDir, join(work, `out-${results.length}.csv`), c.features, c.jobs));
    const r = runs.reduce((best: (typeof runs)[number], run) => (run.cpuSeconds < best.cpuSeconds ? run : best));
    const row = {
      case: c.name,
      jobs: c.jobs,
      audioSeconds: r.audioSeconds,
      wallSeconds: Number(r.wallSeconds.toFixed(3)),
      cpuSeconds: Number(r.cpuSeconds.toFixed(3)),
      audioSecondsPerCpuSecond: Number((r.audioSeconds / r.cpuSeconds).toFixed(1)),
      realTimeFactorWall: Number((r.audioSeconds / r.wallSeconds).toFixed(1)),
      cpuSecondsAllRuns: runs.map((run) => Number(run.cpuSeconds.toFixed(3))),
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }

  // The fixed cost of a worker thread: one file per worker with `threads` workers, against the same files in
  // this (warm) thread; the difference over the worker count is one worker's start-up and warm-up.
  const startupDir = join(work, 'startup');
  mkdirSync(startupDir);
  for (let f = 0; f < threads; f++) writeFileSync(join(startupDir, `track${f}.wav`), pcm16Wav(longSignal(clips, 60, f * 11), SR));
  const bestCpu = async (jobs: number): Promise<number> => {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < REPEATS; i++) best = Math.min(best, (await measure(extract, startupDir, join(work, 'startup.csv'), ['mfcc'], jobs)).cpuSeconds);
    return best;
  };
  const workerStartupCpuSeconds = threads > 1 ? Number((((await bestCpu(threads)) - (await bestCpu(1))) / threads).toFixed(3)) : null;
  console.log(JSON.stringify({ workerStartupCpuSeconds }));

  if (process.env.SPOTML_BENCH_MEMORY === '0') {
    rmSync(work, { recursive: true, force: true });
    return;
  }
  // Peak memory for a 30-minute file, aggregates only, in a fresh process running the built CLI.
  const longPath = join(work, 'long30min.wav');
  writeFileSync(longPath, pcm16Wav(longSignal(clips, 1800, 5), SR));
  const script = `const { extract } = await import(${JSON.stringify(DIST_EXTRACT.href)});
await extract({ inputs: [${JSON.stringify(longPath)}], out: ${JSON.stringify(join(work, 'long.csv'))}, jobs: 1, cache: false });
const { readFileSync } = await import('node:fs');
let hwmKb = null;
try { const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8')); if (m) hwmKb = Number(m[1]); } catch {}
console.log(JSON.stringify({ hwmKb, maxRssKb: process.resourceUsage().maxRSS }));`;
  const memory = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim().split('\n').pop() as string) as { hwmKb: number | null; maxRssKb: number };
  const peakKb = memory.hwmKb ?? memory.maxRssKb;
  const memoryRow = {
    case: '30-minute file, all features, aggregates only, 1 thread',
    peakRssMb: Number((peakKb / 1024).toFixed(1)),
    measuredBy: memory.hwmKb !== null ? 'VmHWM of the child process' : 'ru_maxrss (may include the parent at fork)',
  };
  console.log(JSON.stringify(memoryRow));

  mkdirSync('bench-results', { recursive: true });
  writeFileSync(
    'bench-results/extract.json',
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, audio: `${MINUTES} x 60 s, 22050 Hz mono s16, mixed from fixtures/audio`, goals: { mfccPerCpuSecond: 1500, fullSetPerCpuSecond: 500, peakRssMb: 200 }, throughput: results, workerStartupCpuSeconds, memory: memoryRow }, null, 2)}\n`,
  );
  rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
