#!/usr/bin/python3
"""Fixtures for the Java port of cell2sentence's random tie-break and sentence building.

How to run (from the repository root; Debian's python3-numpy 1.24, python3-scipy, python3-sklearn 1.2,
python3-anndata 0.8 and python3-pandas, i.e. /usr/bin/python3, never a pip environment):

    C2S_SRC=/path/to/cell2sentence/src C2S_COMMIT=<its commit> /usr/bin/python3 src/test/resources/c2s/make_rng_fixtures.py

C2S_SRC points at a checkout of github.com/vandijklab/cell2sentence's `src` folder. When it is set, the expected
sentences come from cell2sentence's own `utils.generate_sentences`/`generate_vocabulary` and the prompts from its
own `prompt_formatter.get_cell_sentence_str` and prompts JSON (its heavy imports that sentence building does not
use -- plotnine, datasets -- are replaced by empty modules). Without it, the script falls back to a transcription
of that procedure and says so in the fixture's `reference` field. Either way the transcription below is checked
against the real function whenever the real function is available.

Writes, next to this script:
  rng_fixtures.json    raw MT19937 draws, RandomState.shuffle of arange(n) in sequence, sklearn.utils.shuffle rows
  c2s_sentences.json   a CSR atlas with many ties, explicit zeros and unsorted rows, and the sentences/prompts
                       cell2sentence makes from it, unfiltered and after gene/cell filters
"""
import hashlib
import importlib.util
import json
import os
import sys
import types
from collections import OrderedDict

import numpy as np
import scipy.sparse as sp
import sklearn.utils

HERE = os.path.dirname(os.path.abspath(__file__))


def raw32(rs, n):
    """Next n 32-bit outputs of a RandomState's MT19937 (what random_interval masks)."""
    return [int(v) for v in rs._bit_generator.random_raw(n)]


def sha256_int32(a):
    return hashlib.sha256(np.asarray(a, dtype="<i4").tobytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# rng_fixtures.json
# ---------------------------------------------------------------------------------------------------------------
def rng_fixtures():
    out = {"numpy": np.__version__, "sklearn": sklearn.__version__}

    # Raw draws after the legacy integer seeding np.random.seed(s); 1000 > 624 crosses a regeneration.
    out["raw"] = []
    for seed in [42, 0, 1, 12345, 2**32 - 1]:
        rs = np.random.RandomState(seed)
        out["raw"].append({"seed": seed, "draws": raw32(rs, 1000)})

    # The full state after seed(42) and 1000 draws, to check save/restore against numpy's own get_state().
    rs = np.random.RandomState(42)
    raw32(rs, 1000)
    name, key, pos, _, _ = rs.get_state()
    out["state_after_1000"] = {"seed": 42, "key": [int(k) for k in key], "pos": int(pos)}

    # Legacy shuffle of arange(n), one after another on one global state (as cell2sentence's rows are).
    sizes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 100, 255, 256, 257, 1000, 3, 70000, 2, 5000, 1, 0, 4]
    np.random.seed(42)
    seq = []
    for n in sizes:
        a = np.arange(n)
        np.random.shuffle(a)
        entry = {"n": n, "sha256_int32": sha256_int32(a)}
        if n <= 5000:
            entry["perm"] = [int(x) for x in a]
        seq.append(entry)
    out["shuffle_sequence"] = {"seed": 42, "shuffles": seq,
                               "raw_after": raw32(np.random.mtrand._rand, 10)}

    # sklearn.utils.shuffle(cols, vals) on the global state: what cell2sentence calls per row.
    gen = np.random.RandomState(7)  # only builds the rows; separate from the state under test
    rows = []
    for nnz in [0, 1, 2, 5, 12, 40, 200, 1, 0, 3, 777, 64, 65]:
        cols = np.sort(gen.choice(30000, size=nnz, replace=False)).astype(np.int32)
        vals = gen.randint(1, 5, size=nnz).astype(np.float32)
        rows.append((cols, vals))
    np.random.seed(42)
    sk = []
    for cols, vals in rows:
        sc, sv = sklearn.utils.shuffle(cols, vals)
        sk.append({"cols": cols.tolist(), "vals": [float(v) for v in vals],
                   "shuffled_cols": [int(c) for c in sc], "shuffled_vals": [float(v) for v in sv]})
    out["sklearn_shuffle"] = {"seed": 42, "rows": sk, "raw_after": raw32(np.random.mtrand._rand, 10)}
    return out


# ---------------------------------------------------------------------------------------------------------------
# cell2sentence itself, or its transcription
# ---------------------------------------------------------------------------------------------------------------
def load_cell2sentence():
    src = os.environ.get("C2S_SRC")
    if not src:
        return None
    for stub in ["plotnine", "datasets"]:
        if stub not in sys.modules:
            m = types.ModuleType(stub)
            m.Dataset = m.DatasetDict = m.load_from_disk = m.concatenate_datasets = object
            sys.modules[stub] = m
    pkg = os.path.join(src, "cell2sentence")

    def load(name):
        spec = importlib.util.spec_from_file_location("c2s_" + name, os.path.join(pkg, name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    with open(os.path.join(pkg, "prompts", "single_cell_cell_type_prediction_prompts.json")) as f:
        prompts = json.load(f)
    return {"utils": load("utils"), "prompt_formatter": load("prompt_formatter"), "prompts": prompts,
            "src": src}


def transcribed_sentences(adata, seed=42):
    """cell2sentence's generate_sentences, restated: one global legacy seed, then per row in file order
    sklearn.utils.shuffle of the row's stored (column, value) pairs and a stable descending argsort.

    The rows are canonical first (columns ascending, duplicates summed, explicit zeros kept): cell2sentence's
    adata_to_arrow calls generate_vocabulary before generate_sentences, and its `adata.X > 0` runs scipy's
    in-place sum_duplicates() on a sparse X, which sorts every row of adata.X itself."""
    np.random.seed(seed)
    mat = sp.csr_matrix(adata.X, copy=True)
    mat.sum_duplicates()
    names = [str(n).upper() for n in adata.var_names]
    out = []
    for i in range(mat.shape[0]):
        lo, hi = mat.indptr[i], mat.indptr[i + 1]
        cols, vals = sklearn.utils.shuffle(mat.indices[lo:hi], mat.data[lo:hi])
        out.append(" ".join(names[c] for c in cols[np.argsort(-vals, kind="stable")]))
    return out


TEMPLATE_0 = ("The following is a list of {num_genes} gene names ordered by descending expression level in a "
              "{organism} cell. Your task is to give the cell type which this cell belongs to based on its gene "
              "expression.\nCell sentence: {cell_sentence}.\nThe cell type corresponding to these genes is:")


def sentences(c2s, adata):
    mine = transcribed_sentences(adata)
    if c2s is None:
        return mine
    vocab = c2s["utils"].generate_vocabulary(adata)
    real = list(c2s["utils"].generate_sentences(adata, vocab, delimiter=" ", random_state=42))
    assert real == mine, "transcription of generate_sentences disagrees with cell2sentence"
    return real


def prompt(c2s, sentence, k, organism):
    if c2s is None:
        words = sentence.split(" ")[:k]
        return TEMPLATE_0.format(num_genes=str(k), organism=organism, cell_sentence=" ".join(words))
    assert c2s["prompts"]["model_input"][0] == TEMPLATE_0
    cs, ng = c2s["prompt_formatter"].get_cell_sentence_str({"cell_sentence": sentence}, num_genes=k)
    return c2s["prompts"]["model_input"][0].format(num_genes=ng, organism=organism, cell_sentence=cs)


# ---------------------------------------------------------------------------------------------------------------
# c2s_sentences.json
# ---------------------------------------------------------------------------------------------------------------
RIBO_MITO_PREFIXES = ("RPL", "RPS", "MRPL", "MRPS", "MT-")


def make_atlas():
    import anndata as ad
    import pandas as pd

    g = np.random.RandomState(2024)
    n_cells, n_genes = 240, 50
    symbols = []
    special = {3: "RPL3", 7: "Rps6", 11: "MRPL12", 15: "mrps5", 19: "mt-Co1", 23: "MT-ND1", 27: "RPS6KA1",
               31: "Rplp0", 35: "MTOR", 39: "Mt2a"}
    for j in range(n_genes):
        symbols.append(special.get(j, ("Gene%d" % j) if j % 2 else ("GENE%d" % j)))
    indptr, indices, data = [0], [], []
    for i in range(n_cells):
        kind = i % 12
        if kind == 0:
            nnz = 0
        elif kind == 1:
            nnz = n_genes
        else:
            nnz = int(g.randint(1, 30))
        cols = np.sort(g.choice(n_genes, size=nnz, replace=False))
        # Small integer counts: many ties, which is where the random tie-break matters.
        vals = g.randint(1, 5, size=nnz).astype(np.float32)
        if i % 5 == 0 and nnz > 2:  # a few fractional values
            vals[g.randint(0, nnz)] = 2.5
        if i % 7 == 0 and nnz > 3:  # explicitly stored zeros, as a CSR file may hold
            vals[g.choice(nnz, size=2, replace=False)] = 0.0
        if i % 3 == 0:  # rows stored out of column order, as a CSR file may hold
            p = g.permutation(nnz)
            cols, vals = cols[p], vals[p]
        indices.extend(int(c) for c in cols)
        data.extend(float(v) for v in vals)
        indptr.append(len(indices))
    X = sp.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32),
                       np.array(indptr, dtype=np.int64)), shape=(n_cells, n_genes))
    assert X.nnz == len(data)  # scipy kept the explicit zeros and the stored order
    obs = pd.DataFrame({
        "cell_type": ["type%d" % (i % 4) for i in range(n_cells)],
        "donor_id": ["donor%d" % (i % 3) for i in range(n_cells)],
        "tissue": ["heart" if i % 2 else "lung" for i in range(n_cells)],
    }, index=["cell%03d" % i for i in range(n_cells)])
    var = pd.DataFrame(index=symbols)
    return ad.AnnData(X=X, obs=obs, var=var, dtype=np.float32)


def filtered(adata, min_genes, min_cells, exclude_ribo_mito):
    """Subset as a user would before cell2sentence, genes first: the ribosomal/mitochondrial names, then genes
    expressed in fewer than min_cells cells (counted over all cells), then cells with fewer than min_genes
    expressed genes among the genes kept (so every cell kept has at least min_genes genes in its sentence).
    Subsetting an AnnData keeps each row's stored order and explicit zeros, so the draws follow the subset's
    stored counts; cells dropped take no draws."""
    upper = np.array([s.upper() for s in adata.var_names])
    gene_keep = ~np.array([u.startswith(RIBO_MITO_PREFIXES) for u in upper]) if exclude_ribo_mito \
        else np.ones(len(upper), dtype=bool)
    X = sp.csr_matrix(adata.X)
    cells_per_gene = np.ravel((X > 0).sum(axis=0))
    gene_keep &= cells_per_gene >= min_cells
    expressed = np.ravel((X[:, gene_keep] > 0).sum(axis=1))
    cell_keep = expressed >= min_genes
    return adata[cell_keep][:, gene_keep].copy(), cell_keep, gene_keep


def atlas_fixture(c2s):
    adata = make_atlas()
    X = adata.X
    out = {
        "reference": ("cell2sentence utils.generate_sentences, commit " + os.environ.get("C2S_COMMIT", "unknown"))
        if c2s
        else "transcription of cell2sentence utils.generate_sentences (C2S_SRC not set)",
        "seed": 42,
        "n_cells": int(X.shape[0]), "n_genes": int(X.shape[1]),
        "gene_symbols": [str(s) for s in adata.var_names],
        "cell_ids": [str(s) for s in adata.obs_names],
        "obs": {c: [str(v) for v in adata.obs[c]] for c in adata.obs.columns},
        "indptr": [int(v) for v in X.indptr], "indices": [int(v) for v in X.indices],
        "values": [float(v) for v in X.data],
        "organism": "Homo sapiens",
    }
    full = sentences(c2s, adata)
    out["unfiltered"] = {"sentences": full}
    out["prompts"] = [{"cell": i, "k": k, "prompt": prompt(c2s, full[i], k, "Homo sapiens")}
                      for i in [1, 2, 5] for k in [10, 200]]
    cases = []
    for min_genes, min_cells, excl in [(0, 0, True), (6, 0, False), (5, 77, True), (0, 78, False)]:
        sub, cell_keep, gene_keep = filtered(adata, min_genes, min_cells, excl)
        cases.append({
            "min_genes_per_cell": min_genes, "min_cells_per_gene": min_cells, "exclude_ribo_mito": excl,
            "kept_cells": [int(i) for i in np.flatnonzero(cell_keep)],
            "kept_genes": [int(j) for j in np.flatnonzero(gene_keep)],
            "sentences": sentences(c2s, sub),
        })
    out["filtered"] = cases
    return out


def main():
    c2s = load_cell2sentence()
    with open(os.path.join(HERE, "rng_fixtures.json"), "w") as f:
        json.dump(rng_fixtures(), f, separators=(",", ":"))
    with open(os.path.join(HERE, "c2s_sentences.json"), "w") as f:
        json.dump(atlas_fixture(c2s), f, separators=(",", ":"))
    print("reference:", "cell2sentence" if c2s else "transcription")


if __name__ == "__main__":
    main()
