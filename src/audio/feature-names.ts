/** The per-clip features spotml computes, named as librosa names them. */
export type FeatureName =
  | 'mfcc'
  | 'mfcc_delta'
  | 'mfcc_delta2'
  | 'melspectrogram_db'
  | 'chroma_stft'
  | 'spectral_centroid'
  | 'spectral_bandwidth'
  | 'spectral_contrast'
  | 'spectral_rolloff'
  | 'spectral_flatness'
  | 'zero_crossing_rate'
  | 'rms'
  | 'onset_strength'
  | 'tempo';

/** The default set: every feature, in a stable order (column order of feature tables follows it). */
export const ALL_FEATURES: readonly FeatureName[] = Object.freeze([
  'mfcc',
  'mfcc_delta',
  'mfcc_delta2',
  'melspectrogram_db',
  'chroma_stft',
  'spectral_centroid',
  'spectral_bandwidth',
  'spectral_contrast',
  'spectral_rolloff',
  'spectral_flatness',
  'zero_crossing_rate',
  'rms',
  'onset_strength',
  'tempo',
] as const);

export function isFeatureName(value: string): value is FeatureName {
  return (ALL_FEATURES as readonly string[]).includes(value);
}

/** Rows each frame-wise feature has under the given sizes (tempo is a clip-level scalar, not a matrix). */
export function featureRows(
  name: Exclude<FeatureName, 'tempo'>,
  sizes: { nMfcc: number; nMels: number; nChroma: number; contrastBands: number },
): number {
  switch (name) {
    case 'mfcc':
    case 'mfcc_delta':
    case 'mfcc_delta2':
      return sizes.nMfcc;
    case 'melspectrogram_db':
      return sizes.nMels;
    case 'chroma_stft':
      return sizes.nChroma;
    case 'spectral_contrast':
      return sizes.contrastBands + 1;
    default:
      return 1;
  }
}
