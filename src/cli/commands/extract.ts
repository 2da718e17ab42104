/**
 * `spotml extract`: WAV files → feature table + FeatureSpec. Parsing and printing only; the work is
 * `extract()` in src/api/extract.ts.
 */
import { Option, type Command } from 'commander';
import { SpotmlError } from '../../errors.js';
import { extract, type ExtractSummary } from '../../api/extract.js';
import { AGGREGATES } from '../../audio/analyze.js';
import { ALL_FEATURES } from '../../audio/feature-names.js';
import type { AnalysisOptions, FeatureSettingsInput } from '../../audio/feature-spec.js';
import type { LabelSource } from '../../audio/discover.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { collectOption, parseListOption, parseNumberOption, textOption } from '../parse.js';
import { formatSeconds, formatTable } from '../ui/index.js';

/** Analysis options settable by flag: attribute name (commander camelCase) → FeatureOptions field. */
const NUMERIC_OPTIONS: readonly { flag: string; key: keyof AnalysisOptions; help: string; integer: boolean }[] = [
  { flag: '--n-fft', key: 'nFft', help: 'FFT size, a power of two (default 2048)', integer: true },
  { flag: '--hop-length', key: 'hopLength', help: 'samples between frames (default 512)', integer: true },
  { flag: '--n-mels', key: 'nMels', help: 'mel bands (default 128)', integer: true },
  { flag: '--fmin', key: 'fmin', help: 'lowest mel frequency in Hz (default 0)', integer: false },
  { flag: '--fmax', key: 'fmax', help: 'highest mel frequency in Hz (default: half the sample rate)', integer: false },
  { flag: '--n-mfcc', key: 'nMfcc', help: 'MFCC coefficients (default 20)', integer: true },
  { flag: '--delta-width', key: 'deltaWidth', help: 'frames in the MFCC delta window, odd (default 9)', integer: true },
  { flag: '--n-chroma', key: 'nChroma', help: 'chroma bins (default 12)', integer: true },
  { flag: '--contrast-bands', key: 'contrastBands', help: 'spectral contrast bands (default 6)', integer: true },
  { flag: '--contrast-fmin', key: 'contrastFmin', help: 'lowest contrast band edge in Hz (default 200)', integer: false },
  { flag: '--contrast-quantile', key: 'contrastQuantile', help: 'contrast peak/valley quantile (default 0.02)', integer: false },
  { flag: '--rolloff-percent', key: 'rolloffPercent', help: 'spectral rolloff energy fraction (default 0.85)', integer: false },
  { flag: '--top-db', key: 'topDb', help: 'dB floor below the clip maximum for the mel dB scale (default 80)', integer: false },
];


export function settingsFromOptions(options: Record<string, unknown>): FeatureSettingsInput {
  const sr = textOption(options, 'sr');
  const analysis: Partial<AnalysisOptions> = {};
  for (const { flag, key, integer } of NUMERIC_OPTIONS) {
    const raw = textOption(options, key);
    if (raw !== undefined) (analysis as Record<string, number>)[key] = parseNumberOption(flag, raw, integer);
  }
  const tuning = textOption(options, 'tuning');
  if (tuning !== undefined) analysis.tuning = tuning === 'estimate' ? null : parseNumberOption('--tuning', tuning);
  const segment = textOption(options, 'segment');
  const segmentHop = textOption(options, 'segmentHop');
  if (segmentHop !== undefined && segment === undefined) {
    throw new SpotmlError('USAGE', '--segment-hop needs --segment <seconds>', { flag: '--segment-hop' });
  }
  const segmentLength = segment === undefined ? undefined : parseNumberOption('--segment', segment);
  const offset = textOption(options, 'offset');
  const duration = textOption(options, 'duration');
  return {
    sampleRate: sr === undefined ? undefined : sr === 'native' ? 'native' : parseNumberOption('--sr', sr, true),
    offset: offset === undefined ? undefined : parseNumberOption('--offset', offset),
    duration: duration === undefined ? undefined : parseNumberOption('--duration', duration),
    segment:
      segmentLength === undefined
        ? null
        : { length: segmentLength, hop: segmentHop === undefined ? segmentLength : parseNumberOption('--segment-hop', segmentHop) },
    features: parseListOption(options.features, ALL_FEATURES),
    aggregates: parseListOption(options.aggregates, AGGREGATES),
    options: analysis,
  };
}

function labelSource(options: Record<string, unknown>): LabelSource {
  const csv = textOption(options, 'labels');
  const fromDirs = options.labelsFromDirs === true;
  if (csv !== undefined && fromDirs) {
    throw new SpotmlError('USAGE', '--labels and --labels-from-dirs cannot be combined: pick one source of labels', { flag: '--labels' });
  }
  const pathColumn = textOption(options, 'pathColumn');
  const labelColumn = textOption(options, 'labelColumn');
  if (csv === undefined && (pathColumn !== undefined || labelColumn !== undefined)) {
    throw new SpotmlError('USAGE', '--path-column and --label-column need --labels <file.csv>', { flag: pathColumn !== undefined ? '--path-column' : '--label-column' });
  }
  if (csv !== undefined) return { kind: 'csv', path: csv, pathColumn, labelColumn };
  return fromDirs ? { kind: 'dirs' } : { kind: 'none' };
}

function parseJobs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const jobs = parseNumberOption('--jobs', value, true);
  if (jobs < 1) throw new SpotmlError('USAGE', `--jobs must be at least 1, got ${value}`, { flag: '--jobs' });
  return jobs;
}

const MAX_LISTED_FAILURES = 20;

function render(summary: ExtractSummary): string {
  const lines: string[] = [];
  const { files } = summary;
  const hours = summary.audioSeconds / 3600;
  lines.push(
    `extracted ${summary.rows} rows × ${summary.columns} columns from ${files.ok}/${files.total} files` +
      ` (${files.failed} failed, ${files.cached} from cache, ${files.withWarnings} with warnings) · ${hours >= 0.1 ? `${hours.toFixed(2)} h` : `${summary.audioSeconds.toFixed(1)} s`} of audio` +
      ` in ${formatSeconds(summary.wallSeconds)} · ${summary.throughput.filesPerSecond.toFixed(1)} files/s`,
  );
  lines.push(`  table  ${summary.outputs.table} (${summary.outputs.format})`);
  lines.push(`  spec   ${summary.outputs.spec} (specHash ${summary.specHash.slice(0, 12)})`);
  if (summary.outputs.frames) lines.push(`  frames ${summary.outputs.frames}`);
  if (summary.labels) lines.push(`  labels ${summary.labels.length}: ${summary.labels.slice(0, 12).join(', ')}${summary.labels.length > 12 ? ', …' : ''}`);
  if (summary.failures.length > 0) {
    lines.push('', `${summary.failures.length} file${summary.failures.length === 1 ? '' : 's'} skipped:`);
    const shown = summary.failures.slice(0, MAX_LISTED_FAILURES).map((f) => [f.path, f.reason]);
    lines.push(...formatTable(['path', 'reason'], shown).split('\n').map((l) => `  ${l}`));
    if (summary.failures.length > MAX_LISTED_FAILURES) {
      lines.push(`  … and ${summary.failures.length - MAX_LISTED_FAILURES} more (all are listed under "failures" in the spec and in --json output)`);
    }
  }
  return lines.join('\n');
}

export const extractCommand: CommandModule = {
  name: 'extract',
  summary: 'compute librosa-compatible features from WAV files into a table (CSV, Parquet, JSONL) plus its FeatureSpec',
  examples: [
    'spotml extract fixtures/audio --labels-from-dirs --out out/features.csv',
    'spotml extract "data/**/*.wav" --labels data/labels.csv --out features.parquet --features mfcc,chroma_stft --aggregates mean,std,skew',
    'spotml extract songs/ --segment 3 --segment-hop 1.5 --sr native --out segments.jsonl --jobs 4',
    'spotml extract clips/ --out feats.csv --frames out/frames --no-cache --strict --json',
  ],
  configure(command: Command): void {
    command
      .argument('[inputs...]', '.wav files, folders (searched recursively) and globs such as "data/**/*.wav"')
      .option('-i, --input <path>', 'an input file, folder or glob (repeatable; same as the positional inputs)', collectOption)
      .option('-o, --out <file>', 'the table to write: .csv, .parquet or .jsonl (the spec goes to <file>.spec.json)')
      .addOption(new Option('--format <format>', 'table format, when the --out extension does not say').choices(['csv', 'parquet', 'jsonl']))
      .option('--labels <file.csv>', 'labels from a CSV with a path column and a label column (paths relative to the CSV, absolute, or a trailing part such as blues/a.wav or a.wav)')
      .option('--labels-from-dirs', 'label each file with the name of its folder (genres/blues/a.wav → blues)')
      .option('--path-column <name>', 'the path column of --labels (default: path, file, filename, … or the first of two columns)')
      .option('--label-column <name>', 'the label column of --labels (default: label, class, category, genre, target, … or the second of two columns)')
      .option('--sr <hz|native>', 'analysis sample rate; "native" keeps each file\'s rate (default 22050)')
      .option('--offset <seconds>', 'skip this much of each file first, as librosa.load(offset=)')
      .option('--duration <seconds>', 'read at most this much of each file, as librosa.load(duration=)')
      .option('--segment <seconds>', 'cut each file into windows of this length, one row each (a last partial window is dropped unless it is the only one)')
      .option('--segment-hop <seconds>', 'step between window starts (default: the segment length, no overlap)')
      .option('--features <list>', `comma-separated features, or "all" (default all): ${ALL_FEATURES.join(', ')}`)
      .option('--aggregates <list>', `comma-separated aggregates over frames (default mean,std): ${AGGREGATES.join(', ')}`);
    for (const { flag, help } of NUMERIC_OPTIONS) command.option(`${flag} <value>`, help);
    command
      .option('--tuning <bins|estimate>', 'chroma tuning in fractions of a bin, [-0.5, 0.5); "estimate" (default) estimates it per clip')
      .option('--frames <dir>', 'also write frame-level matrices as .npy (<dir>/<path>/<feature>.npy, float32 rows × frames)')
      .option('-j, --jobs <n>', 'files processed in parallel on worker threads (default: number of cores; 1 = no workers)')
      .option('--no-cache', 'neither read nor write the extract cache')
      .option('--cache-dir <dir>', 'cache root (default $SPOTML_CACHE_DIR, else .spotml-cache/ beside --out)')
      .option('--strict', 'stop with an error at the first file that cannot be read or has lost audio, e.g. truncated (default: skip unreadable files, extract damaged ones as far as they go, warn, go on)');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    const inputs = [...args, ...((options.input as string[] | undefined) ?? [])];
    if (inputs.length === 0) inputs.push(await context.require(undefined, '--input', 'Which .wav file, folder or glob?'));
    const out = await context.require(textOption(options, 'out'), '--out', 'Where should the feature table go (e.g. features.csv)?');
    const settings = settingsFromOptions(options);
    const labels = labelSource(options);
    const jobs = parseJobs(textOption(options, 'jobs'));

    const cache = options.cache !== false;
    let progress = ui.progress('extract', 0, 'files');
    let failed = 0;
    // Ctrl-C (or a scheduler's SIGTERM, a closed terminal's SIGHUP): every file finished so far is already in the
    // cache (written as each file ends), so say how to resume; exiting through process.exit removes the table's temp file.
    const onInterrupt = (signal: NodeJS.Signals): void => {
      progress.done();
      ui.warn(
        cache
          ? 'interrupted: no table written; files finished so far are cached, so the same command resumes where this one stopped'
          : 'interrupted: no table written (and --no-cache kept nothing; a re-run starts over)',
        { interrupted: true },
      );
      process.exit(signal === 'SIGTERM' ? 143 : signal === 'SIGHUP' ? 129 : 130);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const signal of signals) process.once(signal, onInterrupt);
    const summary = await extract({
      inputs,
      out,
      format: textOption(options, 'format'),
      labels,
      settings,
      framesDir: textOption(options, 'frames') ?? null,
      jobs,
      cache,
      cacheDir: textOption(options, 'cacheDir'),
      strict: options.strict === true,
      onStart: ({ total, jobs: used }) => {
        ui.info(`extracting ${total} file${total === 1 ? '' : 's'} on ${used} thread${used === 1 ? '' : 's'}`);
        progress = ui.progress('extract', total, 'files');
      },
      onFile: ({ audioSeconds, result }) => {
        if (!result.ok) failed++;
        // Short on purpose (fits 80 columns): a line wider than the terminal wraps, and each redraw then leaves a line behind.
        progress.tick(1, failed > 0 ? `· ${failed} failed` : `· ${(audioSeconds / 3600).toFixed(2)} h audio`);
      },
      onWarning: (message, details) => ui.warn(message, details),
    }).finally(() => {
      for (const signal of signals) process.off(signal, onInterrupt);
      progress.done();
    });

    ui.result(summary, () => render(summary));
    return 0;
  },
};
