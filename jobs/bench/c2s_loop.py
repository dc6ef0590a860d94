#!/usr/bin/python3
"""cell2sentence's own sentence loop on the first CELLS cells of an .h5ad, timed: the scale figure of
jobs/bench/sentences, and an independent check of the stage's sentences on that slice.

Run with Debian's Python (python3-anndata, python3-sklearn, python3-numpy, python3-scipy, python3-h5py):
    /usr/bin/python3 jobs/bench/c2s_loop.py ATLAS.h5ad CELLS K OUT.tsv

The loop is vandijklab/cell2sentence src/cell2sentence/utils.py generate_sentences, as transcribed in
src/test/resources/atlas/make_fixtures.py: np.random.seed(42) once, mat = csr_matrix(X), vocabulary = upper-cased
var_names, per row in file order sklearn.utils.shuffle(cols, vals), cols[np.argsort(-vals, kind="stable")], all
symbols joined by spaces (cell2sentence joins the whole row; the prompt keeps its first K words). Because the
generator is seeded once at row 0, the first CELLS rows of the big atlas get exactly the sentences the stage
must give them. Only the loop is timed (reading the slice and writing OUT.tsv are not). OUT.tsv holds
"row TAB first K words" per cell; prints "C2S cells=.. seconds=.. cells_per_s=..".
"""
import sys
import time

import anndata
import numpy as np
import scipy.sparse as sp
from sklearn.utils import shuffle


def main():
    path, cells, k, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    adata = anndata.read_h5ad(path, backed="r")
    mat = sp.csr_matrix(adata.X[:cells])
    enc_map = [name.upper() for name in adata.var_names]

    t0 = time.perf_counter()
    np.random.seed(42)
    sentences = []
    for i in range(mat.shape[0]):
        cols = mat.indices[mat.indptr[i]:mat.indptr[i + 1]]
        vals = mat.data[mat.indptr[i]:mat.indptr[i + 1]]
        cols, vals = shuffle(cols, vals)
        sentences.append(" ".join([enc_map[x] for x in cols[np.argsort(-vals, kind="stable")]]))
    seconds = time.perf_counter() - t0

    with open(out, "w", encoding="utf-8") as f:
        for i, s in enumerate(sentences):
            f.write("%d\t%s\n" % (i, " ".join(s.split(" ")[:k])))
    print("C2S cells=%d seconds=%.2f cells_per_s=%.0f" % (mat.shape[0], seconds, mat.shape[0] / seconds))


if __name__ == "__main__":
    main()
