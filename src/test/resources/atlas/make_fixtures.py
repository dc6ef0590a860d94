#!/usr/bin/python3
"""Tiny atlas fixtures for the readers in org.cellcircuits.sentences, with independent expected values.

How to run (Debian packages only: python3-anndata 0.8, python3-numpy, python3-scipy, python3-h5py,
python3-pandas, python3-sklearn; never the pyenv python3):

    /usr/bin/python3 src/test/resources/atlas/make_fixtures.py            # rewrites the fixtures beside this file
    /usr/bin/python3 src/test/resources/atlas/make_fixtures.py --bench /tmp/bench.h5ad [cells genes nnz_per_row]
                                                                          # a large CSR atlas for the read benchmark
                                                                          # (never committed)

Every .h5ad here is written by AnnData's own writer (anndata 0.8), except `legacy_obs.h5ad`, which is written with
h5py in the pre-0.8 layout (anndata 0.7 dataframes: categorical codes carrying an HDF5 object reference to
obs/__categories/<col>; X in the old `h5sparse_format` sparse layout); anndata 0.8 has no writer for that layout, so
the script reads it back with anndata 0.8's own legacy reader and takes the expected values from that read.

`<fixture>.expected.json` holds, for each fixture, what the Java readers must return:
  - n_cells, n_genes, cell_ids, genes (var index), var_columns
  - X: {indptr, indices, data}: the matrix exactly as scipy holds `sparse.csr_matrix(adata.X)` after
    `anndata.read_h5ad` (the input cell2sentence's generate_sentences iterates over)
  - obs: every obs column rendered as the readers render it (categories and strings as stored, integers in
    decimal, floats as Python str() -- the fixture floats are chosen so Java's Double.toString agrees -- booleans
    as "true"/"false", missing values as null)
  - c2s_sentences: cell2sentence's sentences over the FULL row (not truncated to K), reproducing
    vandijklab/cell2sentence src/cell2sentence/utils.py generate_sentences: `np.random.seed(42)` once,
    `mat = sparse.csr_matrix(adata.X)`, vocabulary = upper-cased `adata.var_names` in var order, then for each
    row in order `cols, vals = sklearn.utils.shuffle(cols, vals)` and `cols[np.argsort(-vals, kind="stable")]`,
    symbols joined by single spaces. `c2s_sentences_<column>` does the same with `adata.var_names` replaced by a
    var column (what a C2S user does to put symbols instead of Ensembl ids in the sentences).
  - c2s_sentences_nonzero: the same ranking with explicitly stored zeros removed after ranking (the random draws
    are identical; see "contract differences" below).
  - raw: the same keys for raw/X and raw/var where the fixture has them.

Contract differences between cell2sentence and our readers/stage, seen while writing this (details in the
Java javadoc of AtlasReader):
  1. Explicitly stored zeros. scipy keeps them in csr_matrix(adata.X) for CSR and CSC input, so C2S shuffles
     them with the rest and puts those genes at the END of the sentence (value 0 sorts last). The readers return
     them (the tie-break draws depend on the stored count); the sentence builder, which promises "zero-expression
     genes dropped", has to drop them after ranking. c2s_sentences_nonzero is that output.
  2. C2S builds its vocabulary as an OrderedDict keyed by upper-cased var_names, so two genes whose symbols are
     equal after upper-casing collapse into one key and every later column index is shifted (a C2S bug). Our
     readers always map column j to var j's symbol. The fixtures keep upper-cased symbols unique, so both agree.
  3. Dense X: csr_matrix(dense) drops zeros and keeps ascending columns, as our contract says.
  4. Matrix Market: scanpy's read_10x_mtx holds mmread(matrix).T, and csr_matrix of that has ascending columns
     per cell with any explicitly written zeros kept; the expected values for the mtx folders come from that.
"""
import gzip
import json
import os
import shutil
import sys

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp
from sklearn.utils import shuffle

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- expected values (independent of the Java code)

def render(value):
    """An obs value as the readers render it."""
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    if isinstance(value, (np.floating, float)):
        return str(float(value))
    return str(value)


def frame_columns(df):
    out = {}
    for col in df.columns:
        series = df[col]
        if isinstance(series.dtype, pd.CategoricalDtype):
            out[col] = [None if pd.isna(v) else render(v) for v in series.astype(object)]
        else:
            out[col] = [render(v) for v in series.tolist()]
    return out


def c2s_sentences(mat, symbols):
    """cell2sentence's generate_sentences, reimplemented from reading utils.py (not imported: not in Debian)."""
    np.random.seed(42)
    enc_map = [s.upper() for s in symbols]
    assert len(set(enc_map)) == len(enc_map), "fixture symbols must stay unique after upper-casing (C2S dedupes)"
    full, nonzero = [], []
    for i in range(mat.shape[0]):
        cols = mat.indices[mat.indptr[i]:mat.indptr[i + 1]]
        vals = mat.data[mat.indptr[i]:mat.indptr[i + 1]]
        cols, vals = shuffle(cols, vals)
        order = np.argsort(-vals, kind="stable")
        full.append(" ".join(enc_map[x] for x in cols[order]))
        nonzero.append(" ".join(enc_map[x] for x, v in zip(cols[order], vals[order]) if v != 0))
    return full, nonzero


def matrix_json(mat):
    return {
        "indptr": [int(x) for x in mat.indptr],
        "indices": [int(x) for x in mat.indices],
        "data": [float(x) for x in mat.data],
    }


def expected_from_anndata(adata, symbol_columns=()):
    """What the readers must return, taken from anndata 0.8's own read of the file."""
    mat = sp.csr_matrix(adata.X)
    full, nonzero = c2s_sentences(mat, list(adata.var_names))
    out = {
        "n_cells": int(adata.n_obs),
        "n_genes": int(adata.n_vars),
        "cell_ids": [str(x) for x in adata.obs_names],
        "genes": [str(x) for x in adata.var_names],
        "var_columns": frame_columns(adata.var),
        "obs": frame_columns(adata.obs),
        "X": matrix_json(mat),
        "c2s_sentences": full,
        "c2s_sentences_nonzero": nonzero,
    }
    for col in symbol_columns:
        out["c2s_sentences_" + col] = c2s_sentences(mat, [str(s) for s in adata.var[col]])[0]
    if adata.raw is not None:
        raw_mat = sp.csr_matrix(adata.raw.X)
        out["raw"] = {
            "n_genes": int(raw_mat.shape[1]),
            "genes": [str(x) for x in adata.raw.var_names],
            "var_columns": frame_columns(adata.raw.var),
            "X": matrix_json(raw_mat),
            "c2s_sentences": c2s_sentences(raw_mat, list(adata.raw.var_names))[0],
        }
    return out


def write_expected(name, expected):
    with open(os.path.join(HERE, name + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=None, separators=(",", ":"))
        f.write("\n")


def write_and_check(name, adata, symbol_columns=(), **kwargs):
    path = os.path.join(HERE, name + ".h5ad")
    adata.write_h5ad(path, **kwargs)
    back = ad.read_h5ad(path)
    write_expected(name, expected_from_anndata(back, symbol_columns))
    return back


# ---------------------------------------------------------------- the data

SYMBOLS = ["CD3E", "CD8A", "MS4A1", "CD79A", "LYZ", "CD14", "FCGR3A", "NKG7", "GNLY", "PPBP",
           "VWF", "PECAM1", "TNNT2", "MYH6", "Malat1", "MT-CO1", "RPL13", "RPS27", "HLA-DRA", "ACTB",
           "GAPDH", "COL1A1", "DCN", "PTPRC", "Xist"]
ENSEMBL = ["ENSG%011d" % (1000 + 37 * i) for i in range(len(SYMBOLS))]


def base_counts(rng, n_cells, n_genes):
    """Quarter-step values (exact in float32 and in decimal text), ~40% dense, one empty cell."""
    dense = np.zeros((n_cells, n_genes), dtype=np.float64)
    for i in range(n_cells):
        k = rng.integers(3, n_genes // 2)
        cols = rng.choice(n_genes, size=k, replace=False)
        dense[i, cols] = rng.integers(1, 40, size=k) / 4.0
    dense[5, :] = 0.0
    return dense


def cell_obs(n_cells, rng):
    types = np.array(["T cell", "B cell", "monocyte", "endothelial cell"], dtype=object)
    cell_type = pd.Categorical(types[rng.integers(0, 4, n_cells)], categories=list(types))
    cell_type[3] = np.nan  # an unannotated cell: code -1
    return pd.DataFrame({
        "cell_type": cell_type,
        "donor_id": pd.Categorical(["D%d" % (i % 3) for i in range(n_cells)]),
        "tissue": pd.Categorical(["heart"] * (n_cells - 2) + ["blood"] * 2),
        "n_genes": np.arange(n_cells, dtype=np.int64) * 3,
        "total": (np.arange(n_cells) + 0.25).astype(np.float64),
        "barcode": ["AAAC%04dGT-1" % i for i in range(n_cells)],  # unique, so anndata keeps it a string-array
        "is_doublet": np.array([i % 5 == 0 for i in range(n_cells)]),
    }, index=["cell_%03d" % i for i in range(n_cells)])


def csr_with_file_order_quirks(dense):
    """CSR whose rows 0 and 2 keep unsorted column order and row 1 an explicitly stored zero."""
    mat = sp.csr_matrix(dense.astype(np.float32))
    indptr, indices, data = mat.indptr.copy(), mat.indices.copy(), mat.data.copy()
    for row in (0, 2):
        lo, hi = indptr[row], indptr[row + 1]
        indices[lo:hi] = indices[lo:hi][::-1]
        data[lo:hi] = data[lo:hi][::-1]
    # row 1: store an explicit zero at the first column the row does not express
    lo, hi = indptr[1], indptr[2]
    missing = sorted(set(range(dense.shape[1])) - set(indices[lo:hi]))[0]
    indices = np.insert(indices, hi, missing)
    data = np.insert(data, hi, np.float32(0))
    indptr[2:] += 1
    out = sp.csr_matrix((data, indices, indptr), shape=dense.shape)
    assert not out.has_sorted_indices
    return out


def fixtures():
    rng = np.random.default_rng(7)
    n_cells, n_genes = 12, len(SYMBOLS)
    dense = base_counts(rng, n_cells, n_genes)
    obs = cell_obs(n_cells, rng)
    var = pd.DataFrame({"feature_name": pd.Categorical(SYMBOLS),
                        "gene_length": np.arange(n_genes, dtype=np.int32) * 100 + 7},
                       index=ENSEMBL)

    # CSR float32, categorical obs, a var symbol column, unsorted rows and an explicit zero
    write_and_check("csr_f32", ad.AnnData(csr_with_file_order_quirks(dense), obs=obs, var=var),
                    symbol_columns=["feature_name"])

    # dense float64, symbols as the var index
    var_sym = pd.DataFrame(index=SYMBOLS)
    write_and_check("dense_f64", ad.AnnData(dense.copy(), obs=obs.copy(), var=var_sym.copy(), dtype=np.float64))

    # CSC int64 with one explicitly stored zero (scipy keeps it in csr_matrix(csc))
    counts = np.round(dense * 4).astype(np.int64)
    csc = sp.csc_matrix(counts)
    csc_data = csc.data.copy()
    csc_data[3] = 0
    csc = sp.csc_matrix((csc_data, csc.indices, csc.indptr), shape=csc.shape)
    write_and_check("csc_i64", ad.AnnData(csc, obs=obs.copy(), var=var_sym.copy(), dtype=np.int64))

    # integer counts CSR int32, then indptr and indices rewritten as int64 (scipy downcasts them when writing)
    back = write_and_check("int_counts", ad.AnnData(sp.csr_matrix(counts.astype(np.int32)), obs=obs.copy(),
                                                    var=var_sym.copy(), dtype=np.int32))
    with h5py.File(os.path.join(HERE, "int_counts.h5ad"), "r+") as f:
        for key in ("indptr", "indices"):
            values = f["X/" + key][()].astype(np.int64)
            del f["X/" + key]
            f.create_dataset("X/" + key, data=values)
    check = ad.read_h5ad(os.path.join(HERE, "int_counts.h5ad"))
    assert (sp.csr_matrix(check.X) != sp.csr_matrix(back.X)).nnz == 0

    # raw/X (uint32 counts over all genes) beside a normalised, gene-subset X
    keep = list(range(0, n_genes, 2))
    norm = np.log1p(dense / np.maximum(dense.sum(1, keepdims=True), 1) * 1e4)[:, keep].astype(np.float32)
    with_raw = ad.AnnData(sp.csr_matrix(counts.astype(np.uint32)), obs=obs.copy(), var=var.copy(), dtype=np.uint32)
    with_raw.raw = with_raw
    with_raw = with_raw[:, keep].copy()
    with_raw.X = sp.csr_matrix(norm)
    write_and_check("raw", with_raw, symbol_columns=["feature_name"])

    # many ties: small integer counts, empty cells and one-gene cells, gzip-chunked datasets
    write_ties(np.random.default_rng(11))

    # old AnnData (< 0.8) layout, written by hand with h5py
    write_legacy(dense, obs, SYMBOLS, ENSEMBL)

    # 10x Matrix Market folders (expected values read the scanpy way)
    write_mtx("mtx_plain", sp.csr_matrix(counts), obs, SYMBOLS, ENSEMBL, gz=False, integer=True)
    write_mtx("mtx_gz", csr_with_file_order_quirks(dense), obs, SYMBOLS, ENSEMBL, gz=True, integer=False)

    write_bad_inputs(dense, obs, var_sym)


def write_ties(rng):
    n_cells, n_genes = 300, 80
    dense = np.zeros((n_cells, n_genes), dtype=np.float32)
    for i in range(n_cells):
        if i % 50 == 7:
            continue  # empty cell: C2S still calls shuffle on it
        k = 1 if i % 50 == 8 else int(rng.integers(2, 70))
        cols = rng.choice(n_genes, size=k, replace=False)
        dense[i, cols] = rng.integers(1, 4, size=k)
    symbols = ["G%02d_%s" % (j, "ABCDEFGH"[j % 8]) for j in range(n_genes)]
    obs = pd.DataFrame({"cell_type": pd.Categorical(["type_%d" % (i % 4) for i in range(n_cells)])},
                       index=["tie_%04d" % i for i in range(n_cells)])
    write_and_check("ties", ad.AnnData(sp.csr_matrix(dense), obs=obs, var=pd.DataFrame(index=symbols)),
                    compression="gzip")


def write_legacy(dense, obs, symbols, ensembl):
    """anndata 0.7-style dataframes and the older h5sparse X layout."""
    path = os.path.join(HERE, "legacy_obs.h5ad")
    mat = sp.csr_matrix(dense.astype(np.float32))
    vlen = h5py.special_dtype(vlen=str)
    with h5py.File(path, "w") as f:
        x = f.create_group("X")
        x.attrs["h5sparse_format"] = "csr"
        x.attrs["h5sparse_shape"] = np.array(mat.shape)
        x.create_dataset("data", data=mat.data)
        x.create_dataset("indices", data=mat.indices)
        x.create_dataset("indptr", data=mat.indptr)

        o = f.create_group("obs")
        o.attrs["encoding-type"] = "dataframe"
        o.attrs["encoding-version"] = "0.1.0"
        o.attrs["_index"] = "_index"
        o.attrs["column-order"] = np.array(["cell_type", "donor_id", "barcode", "total"], dtype=object)
        o.create_dataset("_index", data=np.array(list(obs.index), dtype=object), dtype=vlen)
        cats = o.create_group("__categories")
        for col in ("cell_type", "donor_id"):
            c = obs[col].cat
            cat_ds = cats.create_dataset(col, data=np.array(list(c.categories), dtype=object), dtype=vlen)
            codes = o.create_dataset(col, data=c.codes.astype(np.int8))
            codes.attrs["categories"] = cat_ds.ref
        o.create_dataset("barcode", data=np.array(list(obs["barcode"]), dtype=object), dtype=vlen)
        o.create_dataset("total", data=obs["total"].to_numpy())

        v = f.create_group("var")
        v.attrs["encoding-type"] = "dataframe"
        v.attrs["encoding-version"] = "0.1.0"
        v.attrs["_index"] = "_index"
        v.attrs["column-order"] = np.array(["feature_name"], dtype=object)
        v.create_dataset("_index", data=np.array(ensembl, dtype=object), dtype=vlen)
        v.create_dataset("feature_name", data=np.array(symbols, dtype=object), dtype=vlen)
    back = ad.read_h5ad(path)  # anndata 0.8's legacy reader is the reference for what this layout means
    assert list(back.obs.columns) == ["cell_type", "donor_id", "barcode", "total"]
    assert isinstance(back.obs["cell_type"].dtype, pd.CategoricalDtype)
    write_expected("legacy_obs", expected_from_anndata(back, ["feature_name"]))


def open_text(path, gz):
    return gzip.open(path + ".gz", "wt") if gz else open(path, "w")


def write_mtx(name, cells_by_genes, obs, symbols, ids, gz, integer):
    folder = os.path.join(HERE, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    genes_by_cells = sp.coo_matrix(cells_by_genes.T)
    order = np.lexsort((genes_by_cells.row, genes_by_cells.col))  # cell-major, as Cell Ranger writes it
    with open_text(os.path.join(folder, "matrix.mtx"), gz) as f:
        f.write("%%%%MatrixMarket matrix coordinate %s general\n" % ("integer" if integer else "real"))
        f.write("%metadata_json: {\"software_version\": \"fixture\"}\n")
        f.write("%d %d %d\n" % (genes_by_cells.shape[0], genes_by_cells.shape[1], genes_by_cells.nnz))
        for k in order:
            value = genes_by_cells.data[k]
            text = str(int(value)) if integer else repr(float(value))
            f.write("%d %d %s\n" % (genes_by_cells.row[k] + 1, genes_by_cells.col[k] + 1, text))
    if gz:  # Cell Ranger v2 layout: genes.tsv with two columns
        with open_text(os.path.join(folder, "genes.tsv"), gz) as f:
            for i, s in zip(ids, symbols):
                f.write("%s\t%s\n" % (i, s))
    else:
        with open_text(os.path.join(folder, "features.tsv"), gz) as f:
            for i, s in zip(ids, symbols):
                f.write("%s\t%s\tGene Expression\n" % (i, s))
    with open_text(os.path.join(folder, "barcodes.tsv"), gz) as f:
        for b in obs.index:
            f.write(b + "\n")
    obs_csv = obs[["cell_type", "donor_id", "tissue"]].copy()
    obs_csv["tissue"] = obs_csv["tissue"].astype(str).replace({"heart": "heart, left ventricle"})  # quoting
    obs_csv.to_csv(os.path.join(folder, "obs.csv"), index_label="barcode")

    # the scanpy way: mmread(genes x cells).T, then csr_matrix as cell2sentence does
    suffix = ".gz" if gz else ""
    mat = sp.csr_matrix(scipy.io.mmread(os.path.join(folder, "matrix.mtx" + suffix)).T)
    back_obs = pd.read_csv(os.path.join(folder, "obs.csv"), index_col=0, dtype=str, keep_default_na=False,
                           na_values=[""])
    full, nonzero = c2s_sentences(mat, symbols)
    write_expected(name, {
        "n_cells": int(mat.shape[0]),
        "n_genes": int(mat.shape[1]),
        "cell_ids": list(obs.index),
        "genes": list(symbols),
        "var_columns": {"gene_ids": list(ids)},
        "obs": {c: [None if pd.isna(v) else str(v) for v in back_obs[c]] for c in back_obs.columns},
        "X": matrix_json(mat),
        "c2s_sentences": full,
        "c2s_sentences_nonzero": nonzero,
    })


def write_bad_inputs(dense, obs, var):
    bad = os.path.join(HERE, "bad")
    shutil.rmtree(bad, ignore_errors=True)
    os.makedirs(bad)
    with open(os.path.join(bad, "not_hdf5.h5ad"), "w") as f:
        f.write("cell_id,gene,count\nthis is a CSV file, not HDF5\n")
    ad.AnnData(obs=obs.copy(), var=var.copy()).write_h5ad(os.path.join(bad, "no_x.h5ad"))

    negative = dense.copy()
    negative[4, 6] = -2.0
    ad.AnnData(sp.csr_matrix(negative.astype(np.float32)), obs=obs.copy(), var=var.copy()) \
        .write_h5ad(os.path.join(bad, "negative.h5ad"))
    with_nan = dense.copy()
    with_nan[9, 2] = np.nan
    ad.AnnData(with_nan, obs=obs.copy(), var=var.copy(), dtype=np.float64).write_h5ad(os.path.join(bad, "nan.h5ad"))

    ad.AnnData(sp.csr_matrix((0, dense.shape[1]), dtype=np.float32), var=var.copy()) \
        .write_h5ad(os.path.join(bad, "no_cells.h5ad"))
    ad.AnnData(sp.csr_matrix((dense.shape[0], 0), dtype=np.float32), obs=obs.copy()) \
        .write_h5ad(os.path.join(bad, "no_genes.h5ad"))

    for name, edit in (("indptr_not_monotone", "indptr"), ("index_out_of_range", "indices")):
        path = os.path.join(bad, name + ".h5ad")
        ad.AnnData(sp.csr_matrix(dense.astype(np.float32)), obs=obs.copy(), var=var.copy()).write_h5ad(path)
        with h5py.File(path, "r+") as f:
            values = f["X/" + edit][()]
            if edit == "indptr":
                values[7] = values[6] - 1  # row 6 would end before it starts
            else:
                values[10] = dense.shape[1] + 3  # a column past the last gene
            f["X/" + edit][...] = values


def bench(path, n_cells=20000, n_genes=5000, per_row=1000):
    """A larger CSR atlas for timing the reader (float32 counts, sorted columns, chunk-free like anndata's default)."""
    rng = np.random.default_rng(1)
    indptr = np.arange(n_cells + 1, dtype=np.int64) * per_row
    indices = np.empty(n_cells * per_row, dtype=np.int32)
    for i in range(n_cells):
        indices[i * per_row:(i + 1) * per_row] = np.sort(rng.choice(n_genes, per_row, replace=False))
    data = rng.integers(1, 50, n_cells * per_row).astype(np.float32)
    mat = sp.csr_matrix((data, indices, indptr), shape=(n_cells, n_genes))
    obs = pd.DataFrame({"cell_type": pd.Categorical(["t%d" % (i % 10) for i in range(n_cells)])},
                       index=["c%07d" % i for i in range(n_cells)])
    ad.AnnData(mat, obs=obs, var=pd.DataFrame(index=["GENE%05d" % j for j in range(n_genes)])).write_h5ad(path)
    print("wrote", path, mat.shape, mat.nnz, "stored entries")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--bench":
        bench(sys.argv[2], *[int(a) for a in sys.argv[3:6]])
    else:
        fixtures()
        print("fixtures written to", HERE)
