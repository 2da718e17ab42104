// Tree-ensemble prediction over a compact node table laid out by src/learners/tree/predict.ts.
//
// A node is 16 bytes at a 16-byte-aligned address:
//   split: f64 threshold, i32 feature offset (feature · 64, see below), i32 address of the left child (the right
//          child is the next node, 16 bytes on);
//   leaf:  a NaN threshold whose low 32 bits are the address of the leaf's values, feature offset -64 (negative
//          marks a leaf; the load it leads to lands one group before the row, still inside memory), and itself as
//          the left child.
// The step `left + 16 · (x > threshold)` is branch-free and stays put at a leaf (`x > NaN` is false for every x),
// so several walks advance together until all are at leaves. Thresholds stay float64 and `x > threshold` (go right) is
// the trees' own test (!(x <= threshold)) for the NaN-free rows given here; each row's outputs receive the trees'
// leaf values in tree order, so sums are bit-identical to a per-tree loop.
//
// Rows come in groups of 8, interleaved: feature f of lane j is at group + 64 · f + 8 · j, so one address register
// serves all eight walks (the lane is the load's constant offset). A single row is lane 0 of a group.
// Measured on the serve bench's forest (test/bench/tree-predict.ts): 8 lanes beat 4–7 and match 10–16 (more lanes
// wait longer for their deepest walk; 12 measured the same); two steps per "all at leaves" check save a few
// percent. Testing the leaves' negative feature offsets, rather than "did any walk move", keeps no previous
// addresses alive: the loop fits in registers (+12–18% over the move test). Tried without gain: lane refill
// (each lane takes the next row as soon as it reaches a leaf, rows row-major with their outputs, 4–8 lanes,
// checks every 1–3 steps): 0.6–0.8× — the per-lane leaf branch mispredicts about once per walk, costing more
// than the waiting it saves.
// Trees: `roots` holds each tree's root address (i32), `outputs` the byte offset in a row's output block where the
// tree adds its `width` values; output blocks are `outBytes` apart.

// @ts-ignore: decorator
@inline
function step(node: usize, row: usize): usize {
  return <usize>load<i32>(node, 12) + select<usize>(16, 0, load<f64>(row + <usize>load<i32>(node, 8)) > load<f64>(node));
}

// @ts-ignore: decorator
@inline
function addLeaf(leaf: usize, out: usize, width: i32): void {
  const values = <usize>load<u32>(leaf);
  for (let k = 0; k < width; k++) {
    const at = out + (<usize>k << 3);
    store<f64>(at, load<f64>(at) + load<f64>(values + (<usize>k << 3)));
  }
}

/** `groups` interleaved groups of 8 rows (`groupBytes` apart at `data`), tree by tree. */
export function predictGroups(roots: usize, outputs: usize, treeCount: i32, width: i32, data: usize, groupBytes: i32, groups: i32, out: usize, outBytes: i32): void {
  const outStride = <usize>outBytes;
  for (let t = 0; t < treeCount; t++) {
    const root = <usize>load<i32>(roots + (<usize>t << 2));
    const target = out + <usize>load<i32>(outputs + (<usize>t << 2));
    let x = data;
    let o = target;
    for (let g = 0; g < groups; g++) {
      let a0 = root;
      let a1 = root;
      let a2 = root;
      let a3 = root;
      let a4 = root;
      let a5 = root;
      let a6 = root;
      let a7 = root;
      // Two steps, then the check: a walk at its leaf stays there, so the extra step is harmless.
      while (true) {
        a0 = <usize>load<i32>(a0, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a0, 8), 0) > load<f64>(a0));
        a1 = <usize>load<i32>(a1, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a1, 8), 8) > load<f64>(a1));
        a2 = <usize>load<i32>(a2, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a2, 8), 16) > load<f64>(a2));
        a3 = <usize>load<i32>(a3, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a3, 8), 24) > load<f64>(a3));
        a4 = <usize>load<i32>(a4, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a4, 8), 32) > load<f64>(a4));
        a5 = <usize>load<i32>(a5, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a5, 8), 40) > load<f64>(a5));
        a6 = <usize>load<i32>(a6, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a6, 8), 48) > load<f64>(a6));
        a7 = <usize>load<i32>(a7, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a7, 8), 56) > load<f64>(a7));
        a0 = <usize>load<i32>(a0, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a0, 8), 0) > load<f64>(a0));
        a1 = <usize>load<i32>(a1, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a1, 8), 8) > load<f64>(a1));
        a2 = <usize>load<i32>(a2, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a2, 8), 16) > load<f64>(a2));
        a3 = <usize>load<i32>(a3, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a3, 8), 24) > load<f64>(a3));
        a4 = <usize>load<i32>(a4, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a4, 8), 32) > load<f64>(a4));
        a5 = <usize>load<i32>(a5, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a5, 8), 40) > load<f64>(a5));
        a6 = <usize>load<i32>(a6, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a6, 8), 48) > load<f64>(a6));
        a7 = <usize>load<i32>(a7, 12) + select<usize>(16, 0, load<f64>(x + <usize>load<i32>(a7, 8), 56) > load<f64>(a7));
        // Every walk is at a leaf when every feature offset is negative (one sign test, no per-lane state kept).
        if ((load<i32>(a0, 8) & load<i32>(a1, 8) & load<i32>(a2, 8) & load<i32>(a3, 8) & load<i32>(a4, 8) & load<i32>(a5, 8) & load<i32>(a6, 8) & load<i32>(a7, 8)) < 0) break;
      }
      addLeaf(a0, o, width);
      addLeaf(a1, o + 1 * outStride, width);
      addLeaf(a2, o + 2 * outStride, width);
      addLeaf(a3, o + 3 * outStride, width);
      addLeaf(a4, o + 4 * outStride, width);
      addLeaf(a5, o + 5 * outStride, width);
      addLeaf(a6, o + 6 * outStride, width);
      addLeaf(a7, o + 7 * outStride, width);
      x += <usize>groupBytes;
      o += 8 * outStride;
    }
  }
}

/** One row (lane 0 of the group at `row`) into the output block at `out`, four trees at once, in tree order. */
export function predictOneRow(roots: usize, outputs: usize, treeCount: i32, width: i32, row: usize, out: usize): void {
  let t = 0;
  for (; t + 4 <= treeCount; t += 4) {
    const r = roots + (<usize>t << 2);
    let a0 = <usize>load<i32>(r);
    let a1 = <usize>load<i32>(r, 4);
    let a2 = <usize>load<i32>(r, 8);
    let a3 = <usize>load<i32>(r, 12);
    while ((load<i32>(a0, 8) & load<i32>(a1, 8) & load<i32>(a2, 8) & load<i32>(a3, 8)) >= 0) {
      a0 = step(a0, row);
      a1 = step(a1, row);
      a2 = step(a2, row);
      a3 = step(a3, row);
    }
    const o = outputs + (<usize>t << 2);
    addLeaf(a0, out + <usize>load<i32>(o), width);
    addLeaf(a1, out + <usize>load<i32>(o, 4), width);
    addLeaf(a2, out + <usize>load<i32>(o, 8), width);
    addLeaf(a3, out + <usize>load<i32>(o, 12), width);
  }
  for (; t < treeCount; t++) {
    let a = <usize>load<i32>(roots + (<usize>t << 2));
    while (load<i32>(a, 8) >= 0) a = step(a, row);
    addLeaf(a, out + <usize>load<i32>(outputs + (<usize>t << 2)), width);
  }
}
