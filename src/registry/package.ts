/**
 * The model package: everything downstream (evaluate, register, serve) needs, in one folder.
 *   MLmodel            MLflow's model file: a `spotml` flavor (+ `onnx`/`python_function` when exported)
 *   model.json         the fitted model (versioned JSON), label map, feature names, training facts
 *   feature-spec.json  the FeatureSpec the features were made with (when the table came from `extract`)
 *   input_example.json one row in pandas "split" orientation (+ serving_input_example.json, a request body)
 * The invariant: the FeatureSpec travels with the model; data made under other settings is refused.
 *
 * A model that reads frame-level input (the cnn, alone or in an ensemble) records `frameInput`: its input
 * row is the `featureNames` columns (none for a cnn alone) followed by one n_bands × frames patch of the
 * `extract --frames` matrices, band-major (src/learners/dl/frame-input.ts). Scoring it needs that folder.
 * Its input example names the patch columns as serve does (`<feature>[band][frame]`), so the serving example
 * is a body /invocations accepts; without a real row to show (`exampleRow`) it is a row of zeros of that shape.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { SpotmlError } from '../errors.js';
import { SPOTML_VERSION } from '../version.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { columnIndex, type Table } from '../data/table.js';
import type { FeatureSpec } from '../audio/feature-spec.js';
import { exportOnnx, onnxSupport, type OnnxExport, type OnnxTensorSpec } from '../export/onnx/index.js';
import { LabelEncoder, type ClassLabel } from '../learners/label-encoder.js';
import { loadAnyModel } from '../learners/ensemble.js';
import { concatColumns, type FrameInput } from '../learners/dl/frame-input.js';
import { framesSpecHash, loadTableFrames } from '../learners/dl/frames.js';
import type { FittedModel, SerializedModel, Task } from '../learners/types.js';
import { writeFileAtomic } from '../tracking/fs-atomic.js';
import { inputSchema } from '../serve/protocol.js';

export const PACKAGE_FORMAT = 'spotml.model-package';
export const PACKAGE_FORMAT_VERSION = 1;

export interface PackageDocument {
  format: typeof PACKAGE_FORMAT;
  formatVersion: typeof PACKAGE_FORMAT_VERSION;
  spotmlVersion: string;
  createdAt: string;
  task: Task;
  target: string;
  /** Class labels in class-index order (classification). */
  classes: ClassLabel[] | null;
  featureNames: string[];
  /** specHash of the FeatureSpec the model was trained under (null for plain tables). */
  specHash: string | null;
  /** sha256 of the training table, for lineage. */
  dataHash: string | null;
  metrics: Record<string, number>;
  training: Record<string, unknown>;
  /** Set when the model reads frame patches after the feature columns (absent in older packages). */
  frameInput?: FrameInput | null;
  model: SerializedModel;
}

export interface ModelPackage {
  readonly dir: string;
  readonly document: PackageDocument;
  readonly model: FittedModel;
  readonly labels: LabelEncoder | null;
  readonly spec: FeatureSpec | null;
}

export interface WritePackageInput {
  dir: string;
  task: Task;
  target: string;
  model: FittedModel;
  labels: LabelEncoder | null;
  featureNames: readonly string[];
  spec: FeatureSpec | null;
  dataHash: string | null;
  metrics: Record<string, number>;
  training: Record<string, unknown>;
  /** The frame input the model reads after `featureNames`, if any. */
  frameInput?: FrameInput | null;
  runId?: string;
  /** One input row: the feature columns, then (for a frame model) its patch; a frame model's row may stop after the features. */
  exampleRow?: readonly number[];
  /** Write model.onnx (and its flavors) when the model exports; default true. */
  onnx?: boolean;
}

export async function writeModelPackage(input: WritePackageInput): Promise<PackageDocument> {
  const document: PackageDocument = {
    format: PACKAGE_FORMAT,
    formatVersion: PACKAGE_FORMAT_VERSION,
    spotmlVersion: SPOTML_VERSION,
    createdAt: new Date().toISOString(),
    task: input.task,
    target: input.target,
    classes: input.labels ? [...input.labels.classes] : null,
    featureNames: [...input.featureNames],
    specHash: input.spec?.specHash ?? null,
    dataHash: input.dataHash,
    metrics: input.metrics,
    training: input.training,
    frameInput: input.frameInput ?? null,
    model: input.model.toJSON(),
  };
  await writeFileAtomic(join(input.dir, 'model.json'), JSON.stringify(document));
  if (input.spec) await writeFileAtomic(join(input.dir, 'feature-spec.json'), `${JSON.stringify(input.spec, null, 2)}\n`);
  const example = inputExample(input);
  if (example) {
    await writeFileAtomic(join(input.dir, 'input_example.json'), JSON.stringify(example));
    // What `mlflow models serve` (and spotml serve) accepts as a request body, as MLflow 2.x writes it.
    await writeFileAtomic(join(input.dir, 'serving_input_example.json'), JSON.stringify({ dataframe_split: example }));
  }
  const onnx = await writeOnnxFiles(input.dir, input.onnx === false ? null : input.model);
  await writeFileAtomic(join(input.dir, 'MLmodel'), mlmodelYaml(input, document, onnx));
  return document;
}

/**
 * The package's input example in pandas "split" orientation, columns named as serve matches them. A frame
 * model always gets one (the README's `curl -d @serving_input_example.json` must work for it too): its patch
 * columns follow the features, zeros where no real values were given.
 */
function inputExample(input: WritePackageInput): { columns: string[]; data: number[][] } | null {
  const frameInput = input.frameInput ?? null;
  if (!frameInput) return input.exampleRow ? { columns: [...input.featureNames], data: [[...input.exampleRow]] } : null;
  const columns = inputSchema(input.featureNames, frameInput).featureNames;
  const given = input.exampleRow ?? [];
  if (given.length !== 0 && given.length !== input.featureNames.length && given.length !== columns.length) {
    throw new SpotmlError('INTERNAL', `the input example has ${given.length} values but the model's row has ${input.featureNames.length} features then ${columns.length - input.featureNames.length} patch values`);
  }
  const row = new Array<number>(columns.length).fill(0);
  given.forEach((v, j) => (row[j] = v));
  return { columns: [...columns], data: [row] };
}

export const ONNX_MODEL_FILE = 'model.onnx';
/** The Python side MLflow builds for the python_function flavor (mlflow.md §4). */
const PYTHON_VERSION = '3.11.9';
/** The onnx release whose format the file follows (IR 8, opset 13, ai.onnx.ml 3); MLflow records it. */
const ONNX_FORMAT_VERSION = '1.16.0';
const PYTHON_REQUIREMENTS = ['mlflow>=2.12', 'onnx>=1.14', 'onnxruntime>=1.16'];

/**
 * Writes model.onnx and the Python environment files when the model exports (null: export turned off);
 * otherwise removes any an earlier model left in the folder (serve prefers model.onnx: a stale one must go).
 */
async function writeOnnxFiles(dir: string, model: FittedModel | null): Promise<OnnxExport | null> {
  const files = [ONNX_MODEL_FILE, 'python_env.yaml', 'requirements.txt'];
  if (model === null || !onnxSupport(model).exportable) {
    await Promise.all(files.map((file) => rm(join(dir, file), { force: true })));
    return null;
  }
  const exported = exportOnnx(model);
  await writeFileAtomic(join(dir, ONNX_MODEL_FILE), Buffer.from(exported.bytes.buffer, exported.bytes.byteOffset, exported.bytes.byteLength));
  await writeFileAtomic(join(dir, 'requirements.txt'), `${PYTHON_REQUIREMENTS.join('\n')}\n`);
  const pythonEnv = { python: PYTHON_VERSION, build_dependencies: ['pip', 'setuptools', 'wheel'], dependencies: ['-r requirements.txt'] };
  await writeFileAtomic(join(dir, 'python_env.yaml'), stringifyYaml(pythonEnv));
  return exported;
}

function tensorSpecs(specs: readonly OnnxTensorSpec[]): string {
  return JSON.stringify(specs.map((s) => ({ type: 'tensor', 'tensor-spec': { dtype: s.dtype, shape: s.shape }, name: s.name })));
}

/** numpy's name for the labels' dtype, as MLflow's tensor spec writes it. */
function classesDtype(classes: readonly (string | number)[]): string {
  if (!classes.every((c) => typeof c === 'number')) return 'str';
  return classes.every((c) => Number.isInteger(c)) ? 'int64' : 'float64';
}

function mlmodelYaml(input: WritePackageInput, document: PackageDocument, onnx: OnnxExport | null): string {
  const inputs = input.featureNames.map((name) => ({ type: 'double', name, required: true }));
  const outputs =
    input.task === 'classification'
      ? [{ type: 'tensor', 'tensor-spec': { dtype: classesDtype(document.classes ?? []), shape: [-1] } }]
      : [{ type: 'tensor', 'tensor-spec': { dtype: 'float64', shape: [-1] } }];
  // With model.onnx the signature describes the ONNX graph, the tensors pyfunc feeds and returns.
  const signature = onnx
    ? { inputs: tensorSpecs(onnx.inputs), outputs: tensorSpecs(onnx.outputs), params: null }
    : { inputs: JSON.stringify(inputs), outputs: JSON.stringify(outputs), params: null };
  const onnxFlavors = onnx
    ? {
        onnx: { code: null, data: ONNX_MODEL_FILE, onnx_version: ONNX_FORMAT_VERSION, providers: ['CPUExecutionProvider'], onnx_session_options: null },
        python_function: {
          code: null,
          data: ONNX_MODEL_FILE,
          env: { virtualenv: 'python_env.yaml' },
          loader_module: 'mlflow.onnx',
          python_version: PYTHON_VERSION,
        },
      }
    : {};
  const mlmodel: Record<string, unknown> = {
    artifact_path: 'model',
    flavors: {
      ...onnxFlavors,
      spotml: {
        model: 'model.json',
        feature_spec: input.spec ? 'feature-spec.json' : null,
        spotml_version: SPOTML_VERSION,
        format_version: PACKAGE_FORMAT_VERSION,
        task: input.task,
        model_family: document.model.family,
        ...(input.frameInput ? { frame_input: input.frameInput } : {}),
      },
    },
    model_uuid: randomUUID().replace(/-/g, ''),
    utc_time_created: new Date().toISOString().replace('T', ' ').replace('Z', '000'),
    signature,
  };
  if (input.runId) mlmodel.run_id = input.runId;
  if (input.exampleRow || input.frameInput) mlmodel.saved_input_example_info = { artifact_path: 'input_example.json', pandas_orient: 'split', type: 'dataframe' };
  return stringifyYaml(mlmodel, { sortMapEntries: true, lineWidth: 0 });
}

/**
 * Deeper than any model spotml writes (a few dozen levels) yet far from the stack: the loaders recurse, and a
 * crafted document nested a hundred thousand levels deep would otherwise end in "Maximum call stack size exceeded".
 */
const MAX_JSON_DEPTH = 512;

/** Nesting depth of JSON text, counted without parsing (brackets inside strings do not count). */
function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

async function readJsonFile(file: string, fix: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SpotmlError('INVALID_INPUT', `${file} cannot be read (${(err as Error).message}); ${fix}`, { file });
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new SpotmlError('INVALID_INPUT', `${file} is nested deeper than ${MAX_JSON_DEPTH} levels; ${fix}`, { file });
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SpotmlError('INVALID_INPUT', `${file} is not valid JSON (${(err as Error).message.slice(0, 120)}); ${fix}`, { file });
  }
}

function isLabel(value: unknown): boolean {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** The fields serving and evaluation index into, checked once here so a damaged document fails by name, not deep inside. */
function checkPackageDocument(data: unknown, file: string): PackageDocument {
  const document = data as Partial<PackageDocument> | null;
  const bad = (why: string): SpotmlError => new SpotmlError('INVALID_INPUT', `${file} ${why}; the package is damaged: re-run spotml train`, { file });
  if (typeof document !== 'object' || document === null || Array.isArray(document) || document.format !== PACKAGE_FORMAT) {
    throw new SpotmlError('INVALID_INPUT', `${file} is not a spotml model package document`, { file });
  }
  if (document.formatVersion !== PACKAGE_FORMAT_VERSION) {
    throw new SpotmlError('INVALID_INPUT', `${file} has package format ${String(document.formatVersion)}; this spotml reads ${PACKAGE_FORMAT_VERSION}`, { file });
  }
  if (document.task !== 'classification' && document.task !== 'regression') throw bad('has no "task" of classification or regression');
  if (!Array.isArray(document.featureNames) || !document.featureNames.every((n) => typeof n === 'string')) throw bad('has no "featureNames" list of strings');
  if (document.classes !== null && document.classes !== undefined && (!Array.isArray(document.classes) || !document.classes.every(isLabel))) throw bad('has "classes" that are not a list of labels');
  const model = document.model as unknown;
  if (typeof model !== 'object' || model === null || typeof (model as { family?: unknown }).family !== 'string') throw bad('has no "model" object with a "family"');
  return document as PackageDocument;
}

/** Loads a package folder, checking its format; the model is rebuilt and ready to predict. */
export async function readModelPackage(dir: string): Promise<ModelPackage> {
  const file = join(dir, 'model.json');
  if (!existsSync(file)) {
    throw new SpotmlError('NOT_FOUND', `${dir} is not a spotml model package (no model.json): pass the folder spotml train --out wrote`, { dir });
  }
  const document = checkPackageDocument(await readJsonFile(file, 'the package is damaged'), file);
  const specFile = join(dir, 'feature-spec.json');
  const spec = existsSync(specFile) ? ((await readJsonFile(specFile, 'the package is damaged')) as FeatureSpec) : null;
  let model: FittedModel;
  try {
    model = loadAnyModel(document.model);
  } catch (err) {
    if (err instanceof SpotmlError) throw err;
    throw new SpotmlError('INVALID_INPUT', `${file}: its "model" cannot be rebuilt (${(err as Error).message}); the package is damaged`, { file });
  }
  return {
    dir,
    document,
    model,
    labels: document.classes ? LabelEncoder.fromJSON({ classes: document.classes }) : null,
    spec,
  };
}

/**
 * Takes the model's feature columns from a table, by name, in training order. When both the model and
 * the table carry a FeatureSpec, their specHash must match: features made under other settings are refused.
 */
export function featureMatrix(pkg: ModelPackage, table: Table, tableSpec: FeatureSpec | null, tableName: string): Matrix {
  if (pkg.document.specHash && tableSpec && tableSpec.specHash !== pkg.document.specHash) {
    throw new SpotmlError(
      'FEATURE_SPEC_MISMATCH',
      `${tableName} was extracted with other feature settings (specHash ${tableSpec.specHash.slice(0, 12)}) than the model was trained on (${pkg.document.specHash.slice(0, 12)}): re-run spotml extract with the model's feature-spec.json settings`,
      { expected: pkg.document.specHash, actual: tableSpec.specHash },
    );
  }
  const names = pkg.document.featureNames;
  const missing = names.filter((n) => !table.names.includes(n));
  if (missing.length > 0) {
    throw new SpotmlError('INVALID_INPUT', `${tableName} lacks ${missing.length} feature column(s) the model needs, e.g. "${missing[0]}"`, {
      missing: missing.slice(0, 20),
    });
  }
  const data = new Float64Array(table.nRows * names.length);
  names.forEach((name, j) => {
    const column = table.columns[columnIndex(table, name)];
    if (!(column instanceof Float64Array)) {
      throw new SpotmlError('INVALID_INPUT', `${tableName}: feature column "${name}" is not numeric`, { column: name });
    }
    for (let i = 0; i < table.nRows; i++) data[i * names.length + j] = column[i];
  });
  return createMatrix(table.nRows, names.length, data);
}

/**
 * The model's input rows for a table: its feature columns (featureMatrix), then, for a model that reads
 * frames, each row's patch from the `extract --frames` folder, cropped or padded to the model's frame count.
 */
export async function packageInput(pkg: ModelPackage, table: Table, tableSpec: FeatureSpec | null, tableName: string, framesDir?: string): Promise<Matrix> {
  const features = featureMatrix(pkg, table, tableSpec, tableName);
  const frameInput = pkg.document.frameInput;
  if (!frameInput) return features;
  if (!framesDir) {
    throw new SpotmlError(
      'USAGE',
      `${pkg.dir} reads frame-level input (${frameInput.feature}, ${frameInput.n_bands} bands × ${frameInput.frames} frames): pass --frames DIR, the folder spotml extract --frames wrote for ${tableName}`,
      { flag: '--frames', frameInput },
    );
  }
  const framesHash = await framesSpecHash(framesDir);
  if (pkg.document.specHash && framesHash && framesHash !== pkg.document.specHash) {
    throw new SpotmlError(
      'FEATURE_SPEC_MISMATCH',
      `${framesDir} was extracted with other feature settings (specHash ${framesHash.slice(0, 12)}) than the model was trained on (${pkg.document.specHash.slice(0, 12)}): re-run spotml extract --frames with the model's feature-spec.json settings`,
      { expected: pkg.document.specHash, actual: framesHash },
    );
  }
  const frames = await loadTableFrames({ framesDir, table, tableName, feature: frameInput.feature, frames: frameInput.frames, bands: frameInput.n_bands });
  return concatColumns(features, frames.X);
}
