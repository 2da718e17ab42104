/** One file's extract task under a test folder, and its result asserted to be a success. */
import { extractFile, type ExtractTask, type FileSuccess } from '../../src/audio/extract.js';
import { resolveSettings, specHash, type FeatureSettingsInput } from '../../src/audio/feature-spec.js';

/** The task for `absolutePath` (its table path relative to `root`), no frames, no cache unless `extra` says. */
export function extractTask(root: string, absolutePath: string, input: FeatureSettingsInput = {}, extra: Partial<ExtractTask> = {}): ExtractTask {
  const settings = resolveSettings(input);
  return { absolutePath, path: absolutePath.slice(root.length + 1), settings, specHash: specHash(settings), framesDir: null, cacheDir: null, ...extra };
}

export async function extractOk(t: ExtractTask): Promise<FileSuccess> {
  const result = await extractFile(t);
  if (!result.ok) throw new Error(`expected success, got ${result.reason}`);
  return result;
}
