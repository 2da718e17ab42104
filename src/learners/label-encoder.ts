/**
 * Class labels ↔ class indices, like scikit-learn's LabelEncoder: the classes are the distinct labels sorted
 * (numbers ascending, strings by code point), and a label's index is its position in that list.
 */
import { SpotmlError } from '../errors.js';

export type ClassLabel = string | number;

export interface LabelEncoderJson {
  readonly classes: readonly ClassLabel[];
}

export class LabelEncoder {
  readonly classes: readonly ClassLabel[];
  private readonly indexOf: Map<ClassLabel, number>;

  private constructor(classes: readonly ClassLabel[]) {
    this.classes = classes;
    this.indexOf = new Map(classes.map((label, i) => [label, i]));
  }

  /** Learns the sorted distinct labels; labels must be all numbers (finite) or all strings. */
  static fit(labels: readonly ClassLabel[]): LabelEncoder {
    if (labels.length === 0) throw new SpotmlError('INVALID_INPUT', 'labels: no labels given; the target column is empty');
    const kinds = new Set<string>();
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      checkLabel(label, i);
      kinds.add(typeof label);
    }
    if (kinds.size > 1) {
      throw new SpotmlError('INVALID_INPUT', 'labels: the target mixes numbers and strings; make the column one type (e.g. all strings)');
    }
    const distinct = [...new Set(labels)];
    distinct.sort(compareLabels);
    return new LabelEncoder(distinct);
  }

  static fromJSON(json: LabelEncoderJson): LabelEncoder {
    if (!Array.isArray(json.classes) || json.classes.length === 0) {
      throw new SpotmlError('INVALID_INPUT', 'labels: the saved label map has no classes; the model file is damaged');
    }
    return new LabelEncoder([...json.classes]);
  }

  get nClasses(): number {
    return this.classes.length;
  }

  /** Class index per label; an unseen label is an error naming it. */
  encode(labels: readonly ClassLabel[]): Float64Array {
    const out = new Float64Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const index = this.indexOf.get(labels[i]);
      if (index === undefined) {
        throw new SpotmlError(
          'INVALID_INPUT',
          `labels: "${String(labels[i])}" in row ${i} was not seen in training; known classes: ${this.classes.join(', ')}`,
          { row: i, label: labels[i] },
        );
      }
      out[i] = index;
    }
    return out;
  }

  decode(indices: ArrayLike<number>): ClassLabel[] {
    const out: ClassLabel[] = new Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      if (!Number.isInteger(index) || index < 0 || index >= this.classes.length) {
        throw new SpotmlError('INVALID_INPUT', `labels: class index ${index} is outside [0, ${this.classes.length - 1}]`, { index });
      }
      out[i] = this.classes[index];
    }
    return out;
  }

  toJSON(): LabelEncoderJson {
    return { classes: [...this.classes] };
  }
}

function checkLabel(label: ClassLabel, row: number): void {
  if (typeof label === 'number' && !Number.isFinite(label)) {
    throw new SpotmlError('INVALID_INPUT', `labels: the label in row ${row} is missing or not finite; drop or fill those rows`, { row });
  }
  if (typeof label !== 'number' && typeof label !== 'string') {
    throw new SpotmlError('INVALID_INPUT', `labels: the label in row ${row} is not a string or number`, { row });
  }
}

/** numpy sorts strings by code point; JS `<` compares UTF-16 units, which differs only beyond the BMP. */
function compareLabels(a: ClassLabel, b: ClassLabel): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  const ia = sa[Symbol.iterator]();
  const ib = sb[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return (ca.done ? 0 : 1) - (cb.done ? 0 : 1);
    const pa = ca.value.codePointAt(0) ?? 0;
    const pb = cb.value.codePointAt(0) ?? 0;
    if (pa !== pb) return pa - pb;
  }
}
