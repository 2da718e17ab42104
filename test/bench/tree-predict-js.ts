/**
 * The JS tree kernels spotml predicted with before the WebAssembly kernel (src/learners/tree/predict.ts), kept
 * verbatim for test/bench/tree-predict.ts to time against. Original header:
 *
 * Fast prediction for tree ensembles. A model's trees are compiled once (after fit or load) into one flat node
 * table, and leaf values are summed into a caller-owned output by three kernels:
 *
 *   - `accumulateRowLanes`: tree by tree over the whole batch, four rows walking the tree at once. Each step is
 *     branch-free (the comparison result is added to the child index), so the four independent walks overlap
 *     instead of every level waiting on a mispredicted branch; a tree's nodes stay in L1 while the rows pass.
 *   - `accumulateOneRow`: one row, four trees at once (the same overlap for calls with fewer than four rows).
 *   - `accumulateRowWithMissing`: the plain walk honouring each split's NaN direction, for rows holding NaN.
 *
 * Layout: slot s holds `node[2s]` = split feature and `node[2s + 1]` = the left child's slot, the right child
 * being the next slot (each tree is laid out breadth-first, children in adjacent pairs). A leaf reads feature 0
 * against threshold +Infinity and names itself as its left child, so a walk that reached its leaf stays there
 * while the other lanes finish: `x > +Infinity` is false for every x, NaN included.
 *
 * For every row the values are added tree by tree in the original order, so sums are bit-identical to a plain
 * per-tree loop. The branch-free step tests `x > threshold` (go right) where the trees say `x <= threshold`
 * (go left); the two agree for every non-NaN x because thresholds are never NaN (fit makes midpoints or bin
 * edges, load maps null to +Infinity; compileTrees rejects NaN). Rows holding NaN take the missing-aware kernel.
 */
// The compiled table is unchanged (src/learners/tree/predict.ts still builds it for the NaN-aware walk); only the walks are the old ones.
// The NaN-aware walk is unchanged too, so it is src's.
import { accumulateRowWithMissing, compileTrees, type CompiledTrees } from '../../src/learners/tree/predict.js';

export { compileTrees };

/** Row ids 0, 1, 2, … shared by every call (read-only; grown on demand). */
let identityRows = new Int32Array(0);

function allRows(count: number): Int32Array {
  if (identityRows.length < count) {
    identityRows = new Int32Array(Math.max(count, 2 * identityRows.length));
    for (let i = 0; i < identityRows.length; i++) identityRows[i] = i;
  }
  return identityRows;
}

/**
 * Adds each tree's leaf values for every row of `data` (row-major, `cols` wide) into
 * out[row · outStride + outputOffset[t] + k]. With `allowMissing`, rows holding NaN follow each split's NaN
 * direction; without it the caller has checked there is no NaN.
 */
export function accumulateTrees(
  trees: CompiledTrees,
  data: Float64Array,
  rowCount: number,
  cols: number,
  out: Float64Array,
  outStride: number,
  allowMissing: boolean,
): void {
  let cleanRows = allRows(rowCount);
  let cleanCount = rowCount;
  if (allowMissing && hasMissing(data, 0, rowCount * cols)) {
    cleanRows = new Int32Array(rowCount);
    cleanCount = 0;
    for (let r = 0; r < rowCount; r++) {
      if (hasMissing(data, r * cols, cols)) accumulateRowWithMissing(trees, data, r * cols, out, r * outStride);
      else cleanRows[cleanCount++] = r;
    }
  }
  const laneRows = cleanCount - (cleanCount % 4);
  if (laneRows > 0) accumulateRowLanes(trees, data, cols, cleanRows, laneRows, out, outStride);
  for (let i = laneRows; i < cleanCount; i++) {
    const r = cleanRows[i];
    accumulateOneRow(trees, data, r * cols, out, r * outStride);
  }
}

function hasMissing(values: Float64Array, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (values[i] !== values[i]) return true;
  return false;
}

/** The NaN-free rows rows[0 .. count) (count a multiple of 4), tree by tree, four rows per walk. */
export function accumulateRowLanes(
  trees: CompiledTrees,
  data: Float64Array,
  cols: number,
  rows: Int32Array,
  count: number,
  out: Float64Array,
  outStride: number,
): void {
  const { root, outputOffset, node, threshold, leafOffset, leafValues, leafWidth } = trees;
  for (let t = 0; t < trees.treeCount; t++) {
    const start = root[t];
    const target = outputOffset[t];
    for (let i = 0; i < count; i += 4) {
      const ra = rows[i];
      const rb = rows[i + 1];
      const rc = rows[i + 2];
      const rd = rows[i + 3];
      const xa = ra * cols;
      const xb = rb * cols;
      const xc = rc * cols;
      const xd = rd * cols;
      let a = start;
      let b = start;
      let c = start;
      let d = start;
      let moved = 1;
      while (moved !== 0) {
        // `+(x > threshold)` compiles to a flag read, not a branch; `| 0` keeps the index arithmetic int32.
        const na = (node[2 * a + 1] + +(data[(xa + node[2 * a]) | 0] > threshold[a])) | 0;
        const nb = (node[2 * b + 1] + +(data[(xb + node[2 * b]) | 0] > threshold[b])) | 0;
        const nc = (node[2 * c + 1] + +(data[(xc + node[2 * c]) | 0] > threshold[c])) | 0;
        const nd = (node[2 * d + 1] + +(data[(xd + node[2 * d]) | 0] > threshold[d])) | 0;
        moved = (na ^ a) | (nb ^ b) | (nc ^ c) | (nd ^ d);
        a = na;
        b = nb;
        c = nc;
        d = nd;
      }
      const va = leafOffset[a];
      const vb = leafOffset[b];
      const vc = leafOffset[c];
      const vd = leafOffset[d];
      const oa = ra * outStride + target;
      const ob = rb * outStride + target;
      const oc = rc * outStride + target;
      const od = rd * outStride + target;
      for (let k = 0; k < leafWidth; k++) {
        out[oa + k] += leafValues[va + k];
        out[ob + k] += leafValues[vb + k];
        out[oc + k] += leafValues[vc + k];
        out[od + k] += leafValues[vd + k];
      }
    }
  }
}

/** One NaN-free row starting at data[x] into out[o …], four trees per walk, values added in tree order. */
export function accumulateOneRow(trees: CompiledTrees, data: Float64Array, x: number, out: Float64Array, o: number): void {
  const { root, outputOffset, node, threshold, leafOffset, leafValues, leafWidth } = trees;
  const T = trees.treeCount;
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    let a = root[t];
    let b = root[t + 1];
    let c = root[t + 2];
    let d = root[t + 3];
    let moved = 1;
    while (moved !== 0) {
      const na = (node[2 * a + 1] + +(data[(x + node[2 * a]) | 0] > threshold[a])) | 0;
      const nb = (node[2 * b + 1] + +(data[(x + node[2 * b]) | 0] > threshold[b])) | 0;
      const nc = (node[2 * c + 1] + +(data[(x + node[2 * c]) | 0] > threshold[c])) | 0;
      const nd = (node[2 * d + 1] + +(data[(x + node[2 * d]) | 0] > threshold[d])) | 0;
      moved = (na ^ a) | (nb ^ b) | (nc ^ c) | (nd ^ d);
      a = na;
      b = nb;
      c = nc;
      d = nd;
    }
    addLeaf(leafValues, leafOffset[a], leafWidth, out, o + outputOffset[t]);
    addLeaf(leafValues, leafOffset[b], leafWidth, out, o + outputOffset[t + 1]);
    addLeaf(leafValues, leafOffset[c], leafWidth, out, o + outputOffset[t + 2]);
    addLeaf(leafValues, leafOffset[d], leafWidth, out, o + outputOffset[t + 3]);
  }
  for (; t < T; t++) {
    let slot = root[t];
    while (leafOffset[slot] < 0) slot = (node[2 * slot + 1] + +(data[(x + node[2 * slot]) | 0] > threshold[slot])) | 0;
    addLeaf(leafValues, leafOffset[slot], leafWidth, out, o + outputOffset[t]);
  }
}

function addLeaf(leafValues: Float64Array, from: number, width: number, out: Float64Array, to: number): void {
  for (let k = 0; k < width; k++) out[to + k] += leafValues[from + k];
}
