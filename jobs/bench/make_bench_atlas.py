#!/usr/bin/python3
"""Writes the synthetic atlas of jobs/bench/sentences: a CSR .h5ad laid out exactly as anndata 0.8 writes one.

Run with Debian's Python (python3-anndata, python3-h5py, python3-numpy, python3-pandas, python3-scipy):
    /usr/bin/python3 jobs/bench/make_bench_atlas.py OUT.h5ad [CELLS] [GENES] [MEAN_STORED] [SEED]
Defaults: 200000 cells x 30000 genes, ~2000 stored entries per cell, seed 7. The file (~3.2 GB at the defaults)
is a benchmark input, never committed.

What makes it realistic for the sentences stage:
- gene detection rates are log-normal (a few genes in nearly every cell, most genes rare) and each cell has its
  own depth, so cells store ~650 to ~5000 entries around the mean;
- counts are UMI-like: 1 + Poisson(gene rate x cell depth x gamma noise): ~65% ones, ~16% twos, a tail into the
  hundreds for the most expressed genes, so the top-200 cut falls inside a large block of tied counts in most
  cells (the c2s tie-break does real work);
- gene symbols look like HGNC symbols (mixed case such as C1orf112, hyphens, -AS1 suffixes), cell ids like 10x
  barcodes, and obs has categorical cell_type, donor_id and tissue.

The matrix is too big to build in memory with scipy, so anndata writes the file with an empty X of the right
shape (obs, var, every attribute as anndata writes them), and X/data, X/indices and X/indptr are then replaced
by datasets made as anndata makes them (float32 data, int32 indices and indptr, uncompressed, resizable, so
chunked with h5py's default chunk shape) and filled 1000 cells at a time. The end of the script reads the file
back with anndata and checks the shape, the stored-entry count and a few rows against what was written.
"""
import sys

import anndata
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

BLOCK = 1000


def symbols(rng, n):
    """n distinct gene symbols shaped like HGNC's (mostly upper case; C1orf112-like ones are mixed case)."""
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    out, seen = [], set()
    while len(out) < n:
        kind = rng.random()
        if kind < 0.04:
            s = "C%dorf%d" % (rng.integers(1, 23), rng.integers(1, 300))
        elif kind < 0.08:
            s = "LINC%05d" % rng.integers(1, 3000)
        elif kind < 0.11:
            s = "".join(rng.choice(letters, rng.integers(3, 6))) + "%d-AS1" % rng.integers(1, 20)
        elif kind < 0.112:
            s = "MT-" + "".join(rng.choice(letters, 2)) + str(rng.integers(1, 7))
        else:
            s = "".join(rng.choice(letters, rng.integers(2, 6))) + str(rng.integers(1, 40))
        if s.upper() not in seen:
            seen.add(s.upper())
            out.append(s)
    return out


def barcodes(n):
    """10x-style cell barcodes: row number in base 4 over ACGT, 16 letters, plus '-1'."""
    acgt = np.array(list("ACGT"))
    digits = (np.arange(n)[:, None] // (4 ** np.arange(15, -1, -1))[None, :]) % 4
    return ["".join(row) + "-1" for row in acgt[digits]]


def main():
    out = sys.argv[1]
    cells = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    genes = int(sys.argv[3]) if len(sys.argv) > 3 else 30_000
    mean_stored = int(sys.argv[4]) if len(sys.argv) > 4 else 2_000
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 7
    rng = np.random.default_rng(seed)

    # Detection rate per gene (sums to mean_stored per average cell, capped below 1), depth per cell.
    p = rng.lognormal(0.0, 1.6, genes)
    for _ in range(30):
        p = np.minimum(p * mean_stored / p.sum(), 0.97)
    depth = rng.lognormal(0.0, 0.35, cells)
    depth /= depth.mean()
    rate = 0.12 * (p / np.median(p)) ** 0.75
    rate[np.argsort(p)[-20:]] *= 15  # the MALAT1/mitochondrial-like genes with counts in the hundreds

    obs = pd.DataFrame({
        "cell_type": pd.Categorical(rng.choice(["cell type %d" % i for i in range(30)], cells)),
        "donor_id": pd.Categorical(rng.choice(["donor_%02d" % i for i in range(16)], cells)),
        "tissue": pd.Categorical(rng.choice(["heart left ventricle", "heart right atrium", "lung", "blood",
                                             "kidney", "liver"], cells)),
    }, index=barcodes(cells))
    var = pd.DataFrame(index=symbols(rng, genes))
    anndata.AnnData(X=sp.csr_matrix((cells, genes), dtype=np.float32), obs=obs, var=var).write_h5ad(out)

    expected_nnz = int(cells * mean_stored * 1.05)
    checks = {}
    with h5py.File(out, "r+") as f:
        x = f["X"]
        for name in ("data", "indices", "indptr"):
            del x[name]
        # As anndata does: only maxshape=(None,), so h5py picks the chunk shape (from the estimated size here).
        data = x.create_dataset("data", shape=(expected_nnz,), maxshape=(None,), dtype=np.float32)
        indices = x.create_dataset("indices", shape=(expected_nnz,), maxshape=(None,), dtype=np.int32)
        indptr = x.create_dataset("indptr", shape=(cells + 1,), maxshape=(None,), dtype=np.int32)
        offsets = np.zeros(cells + 1, dtype=np.int64)
        at = 0
        for start in range(0, cells, BLOCK):
            end = min(cells, start + BLOCK)
            prob = np.minimum(np.outer(depth[start:end], p), 0.98).astype(np.float32)
            rows, cols = np.nonzero(rng.random(prob.shape, dtype=np.float32) < prob)  # row-major: columns ascend
            noise = rng.gamma(0.5, 2.0, len(cols))
            counts = (1 + rng.poisson(rate[cols] * depth[start + rows] * noise)).astype(np.float32)
            n = len(cols)
            if at + n > data.shape[0]:
                data.resize((at + n + expected_nnz // 20,))
                indices.resize((at + n + expected_nnz // 20,))
            data[at:at + n] = counts
            indices[at:at + n] = cols.astype(np.int32)
            offsets[start + 1:end + 1] = at + np.cumsum(np.bincount(rows, minlength=end - start))
            for r in (start, end - 1):
                if r in (0, cells // 2, cells - 1):
                    sel = rows == r - start
                    checks[r] = (cols[sel].copy(), counts[sel].copy())
            at += n
            if start // BLOCK % 20 == 0:
                print("make_bench_atlas: %d / %d cells, %d entries" % (end, cells, at), flush=True)
        if at >= 2 ** 31:
            raise SystemExit("%d stored entries do not fit int32 indptr; lower CELLS or MEAN_STORED" % at)
        data.resize((at,))
        indices.resize((at,))
        indptr[:] = offsets.astype(np.int32)

    # Read back through anndata: the file must be a valid .h5ad holding what was generated.
    a = anndata.read_h5ad(out, backed="r")
    assert a.shape == (cells, genes), a.shape
    assert list(a.obs.columns) == ["cell_type", "donor_id", "tissue"], list(a.obs.columns)
    assert all(isinstance(a.obs[c].dtype, pd.CategoricalDtype) for c in a.obs.columns)
    for r, (cols, counts) in checks.items():
        row = a.X[r]
        assert np.array_equal(row.indices, cols) and np.array_equal(row.data, counts), "row %d differs" % r
    with h5py.File(out, "r") as f:
        values = f["X/data"][: min(at, 20_000_000)]
    ones, twos = (values == 1).mean(), (values == 2).mean()
    print("make_bench_atlas: wrote %s: %d cells x %d genes, %d stored entries (%.0f per cell), counts 1: %.0f%%, "
          "2: %.0f%%, max %d; anndata reads it back" % (out, cells, genes, at, at / cells, 100 * ones, 100 * twos,
                                                        values.max()))


if __name__ == "__main__":
    main()
