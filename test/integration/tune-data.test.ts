/**
 * tune() in-process (one job, no tracking, no plots): a study resumes only on the data it was made on
 * (a same-named, same-shaped table with shuffled labels is refused), a journal from before data
 * fingerprints still resumes, and a segmented table's folds keep each file's rows together.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tune } from '../../src/api/tune.js';
import { Rng } from '../../src/learners/rng.js';
import { WINE, tempDir } from './tune-helpers.js';

describe('tune resumes only on the same data', () => {
  it('refuses a default-named study on a same-shaped table with other labels, and resumes an old study without a fingerprint', async () => {
    const dir = tempDir('spotml-tune-data-');
    const journal = join(dir, 'studies.jsonl');
    const base = { target: 'target', model: 'knn', trials: 2, storage: journal, trackingUri: null, plots: false, seed: 1, cwd: dir };
    const first = await tune({ ...base, table: WINE });
    expect(first.study).toBe('knn-wine-target');
    expect(first.cvGroups).toBeNull();

    // Same basename, same shape, labels shuffled.
    const lines = (await readFile(WINE, 'utf8')).trimEnd().split('\n');
    const original = lines.slice(1).map((l) => l.slice(l.lastIndexOf(',') + 1));
    const order = new Rng(4).shuffle(original.map((_, i) => i));
    const labels = order.map((i) => original[i]);
    await mkdir(join(dir, 'other'));
    const other = join(dir, 'other', 'wine.csv');
    await writeFile(other, `${[lines[0], ...lines.slice(1).map((l, i) => `${l.slice(0, l.lastIndexOf(','))},${labels[i]}`)].join('\n')}\n`);
    await expect(tune({ ...base, table: other, trials: 3 })).rejects.toThrow(
      /^study "knn-wine-target" in .* was made on different data \(same name, other values\): pass --study <new name> to start a new study on this table$/,
    );
    const renamed = await tune({ ...base, table: other, study: 'knn-other-wine' });
    expect(renamed.resumed).toBe(false);

    // The same table resumes.
    const again = await tune({ ...base, table: WINE, trials: 3 });
    expect(again.resumed).toBe(true);
    expect(again.trials.total).toBe(3);

    // A journal written before fingerprints: the study's attributes lack them, and it still resumes (warning once).
    const text = await readFile(journal, 'utf8');
    const old = text
      .split('\n')
      .map((line) => {
        if (!line.includes('"create_study"')) return line;
        const entry = JSON.parse(line) as { attrs: Record<string, unknown> };
        delete entry.attrs.dataFingerprint;
        delete entry.attrs.cvGroups;
        return JSON.stringify(entry);
      })
      .join('\n');
    await writeFile(journal, old);
    const warnings: string[] = [];
    const resumed = await tune({ ...base, table: other, trials: 4, onWarning: (m) => warnings.push(m) });
    expect(resumed.resumed).toBe(true);
    expect(warnings.filter((w) => /predates data fingerprints/.test(w))).toHaveLength(1);
  }, 60_000);

  it('keeps the segments of one file in one fold and leaves extract\'s metadata out of the features', async () => {
    const dir = tempDir('spotml-tune-groups-');
    const rng = new Rng(8);
    const rows = ['path,segment,start_s,end_s,f1,f2,label'];
    for (let file = 0; file < 30; file++) {
      const label = file % 3;
      for (let segment = 0; segment < 4; segment++) rows.push([`clip${file}.wav`, segment, segment / 4, segment / 4 + 0.5, rng.next() + label, rng.next(), `c${label}`].join(','));
    }
    const table = join(dir, 'features.csv');
    await writeFile(table, `${rows.join('\n')}\n`);
    const warnings: string[] = [];
    const summary = await tune({ table, target: 'label', model: 'knn', trials: 2, storage: join(dir, 's.jsonl'), trackingUri: null, plots: false, seed: 2, cwd: dir, onWarning: (m) => warnings.push(m) });
    expect(summary.cvGroups).toEqual({ column: 'path', count: 30 });
    expect(summary.features).toBe(2);
    expect(warnings).toEqual([]);
  }, 60_000);
});
