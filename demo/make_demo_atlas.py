#!/usr/bin/python3
"""Simulates the demo heart atlas, demo/heart_demo.h5ad, from published marker genes.

Run from the repository root with Debian's Python (packages python3-anndata 0.8, python3-numpy, python3-scipy,
python3-pandas, python3-h5py; not the pyenv python3):

    /usr/bin/python3 demo/make_demo_atlas.py                     # writes demo/heart_demo.h5ad, prints a summary
    /usr/bin/python3 demo/make_demo_atlas.py --prompts /tmp/demo_prompts.txt   # also writes C2S training prompts

Seeded and deterministic: the same inputs give the same file on any machine with these package versions.

The atlas is simulated, not measured. It follows the 12 major cell types of the Heart Cell Atlas v2 (Kanemaru et al.
2023, Nature 619:801) with their rough imbalance and a floor so rare types still have cells; cells come from 6 donors
and 7 regions (LV, RV, LA, RA, AX apex, SP septum, AVN atrioventricular node; atrial cardiomyocytes only in the atria
and AVN, ventricular ones only in the ventricles, apex and septum). Genes are the real human symbols of genes.tsv
(made by make_genes.py from org.Hs.eg.db). Counts are negative-binomial (gamma-Poisson) around a mean that is
    library size x (housekeeping level | background level x cell-type noise | marker boost) x donor effect,
normalised per cell type so the means sum to the library size:
  - housekeeping genes (ribosomal proteins, mitochondrially encoded genes, ACTB, GAPDH, MALAT1, ...) are high in every
    cell, mitochondrial transcripts highest in cardiomyocytes;
  - each cell type's markers (markers.tsv, weight 0-1) take a share of the library proportional to their weight, so
    they usually rank within a cell's top 200 genes but not always first;
  - background genes get a log-normal level shared by all types, a small log-normal per-type deviation, and per-donor
    log-normal effects; most are low, so a cell expresses a few hundred genes.
Library sizes are log-normal per cell with a per-type median and a per-donor factor.

Written with anndata's own writer: X is CSR float32 raw counts; obs has cell_type, donor_id, tissue (categorical);
var's index is the gene symbol and var.feature_name repeats it (as CELLxGENE files name genes). Datasets are gzip
compressed (HDF5 deflate filter, which jhdf reads).

To use the real Heart Cell Atlas v2 instead, point the pipeline at its .h5ad (raw counts in X or layers, cell-type
labels in obs); nothing here is needed for that.
"""
import argparse
import csv
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
SEED = 20240611
N_CELLS = 6000
FLOOR = 60
TOP_K = 200
ORGANISM = "Homo sapiens"

# Rough share of each type in HCA v2 (cells and nuclei together); the floor lifts the rare ones.
SHARES = {
    "ventricular cardiomyocyte": 0.24,
    "atrial cardiomyocyte": 0.12,
    "fibroblast": 0.19,
    "endothelial cell": 0.18,
    "mural cell": 0.13,
    "myeloid cell": 0.055,
    "lymphoid cell": 0.025,
    "neuronal cell": 0.008,
    "adipocyte": 0.006,
    "mast cell": 0.005,
    "lymphatic endothelial cell": 0.007,
    "mesothelial cell": 0.004,
}
# Median UMIs per cell: cardiomyocytes are the largest cells, lymphocytes and mast cells the smallest.
LIBRARY_MEDIAN = {
    "ventricular cardiomyocyte": 2800, "atrial cardiomyocyte": 2500, "fibroblast": 1900, "endothelial cell": 1700,
    "mural cell": 1700, "myeloid cell": 1600, "lymphoid cell": 1100, "neuronal cell": 1900, "adipocyte": 1900,
    "mast cell": 1300, "lymphatic endothelial cell": 1500, "mesothelial cell": 1700,
}
DONORS = ["D1", "D2", "D3", "D4", "D5", "D6"]
REGIONS = ["LV", "RV", "LA", "RA", "AX", "SP", "AVN"]
REGION_WEIGHTS = {  # where each type is sampled from
    "ventricular cardiomyocyte": {"LV": 0.35, "RV": 0.25, "AX": 0.2, "SP": 0.2},
    "atrial cardiomyocyte": {"LA": 0.45, "RA": 0.45, "AVN": 0.1},
}
DEFAULT_REGIONS = {"LV": 0.2, "RV": 0.17, "LA": 0.17, "RA": 0.17, "AX": 0.1, "SP": 0.1, "AVN": 0.09}

MARKER_SHARE = 0.012     # share of the library one weight-1.0 marker takes in its own type
MARKER_OFF = 2e-5        # a marker's share in every other type
MITO_SHARE = {"ventricular cardiomyocyte": 0.20, "atrial cardiomyocyte": 0.16}  # all 13 MT- genes together
MITO_DEFAULT = 0.06
RIBO_SHARE = 0.12        # all ribosomal proteins together
OTHER_HK_SHARE = 0.10    # ACTB, GAPDH, MALAT1, ...
BACKGROUND_SHARE = 0.20  # all background genes together
DISPERSION = 3.0         # gamma shape: variance = mean + mean^2 / DISPERSION


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def cell_counts(rng):
    n = {t: max(FLOOR, int(round(s * N_CELLS))) for t, s in SHARES.items()}
    # Take the cells the floor added from the largest type, so the total stays N_CELLS.
    n["ventricular cardiomyocyte"] += N_CELLS - sum(n.values())
    return n


def type_profiles(genes, roles, markers, types, rng):
    """Mean share of the library per gene, one row per cell type (rows sum to 1)."""
    g = len(genes)
    idx = {s: i for i, s in enumerate(genes)}
    mito = np.array([s.startswith("MT-") for s in genes])
    ribo = np.array([roles[s] == "housekeeping" and s.startswith(("RPL", "RPS")) for s in genes])
    other_hk = np.array([roles[s] == "housekeeping" for s in genes]) & ~mito & ~ribo
    background = np.array([roles[s] == "background" for s in genes])
    is_marker = np.array([roles[s] == "marker" for s in genes])

    # Levels within each group: log-normal, so a few genes dominate as in real data.
    level = rng.lognormal(0.0, 1.0, size=g)
    level[other_hk] = rng.lognormal(0.0, 0.6, size=other_hk.sum())
    if "MALAT1" in idx:
        level[idx["MALAT1"]] = 8.0 * level[other_hk].mean()
    bg_level = rng.lognormal(0.0, 2.2, size=g)
    # Cut the far tail so no background gene outranks the planted markers and housekeeping genes everywhere.
    bg_level = np.minimum(bg_level, np.percentile(bg_level, 99))

    prof = np.zeros((len(types), g))
    for k, t in enumerate(types):
        p = np.zeros(g)
        mshare = MITO_SHARE.get(t, MITO_DEFAULT)
        p[mito] = mshare * level[mito] / level[mito].sum()
        p[ribo] = RIBO_SHARE * level[ribo] / level[ribo].sum()
        p[other_hk] = OTHER_HK_SHARE * level[other_hk] / level[other_hk].sum()
        bg = bg_level[background] * rng.lognormal(0.0, 0.4, size=background.sum())
        p[background] = BACKGROUND_SHARE * bg / bg.sum()
        p[is_marker] = MARKER_OFF
        for gene, w in markers[t]:
            p[idx[gene]] = max(p[idx[gene]], w * MARKER_SHARE)
        prof[k] = p / p.sum()
    return prof


def simulate(genes, roles, markers):
    rng = np.random.RandomState(SEED)
    types = list(SHARES)
    n_per_type = cell_counts(rng)
    prof = type_profiles(genes, roles, markers, types, rng)
    g = len(genes)
    donor_gene = rng.lognormal(0.0, 0.25, size=(len(DONORS), g))
    donor_lib = rng.lognormal(0.0, 0.2, size=len(DONORS))
    donor_weights = rng.dirichlet(np.full(len(DONORS), 4.0))

    cell_type, donor, region, rows = [], [], [], []
    for k, t in enumerate(types):
        n = n_per_type[t]
        d = rng.choice(len(DONORS), size=n, p=donor_weights)
        rw = REGION_WEIGHTS.get(t, DEFAULT_REGIONS)
        reg = rng.choice(list(rw), size=n, p=np.array(list(rw.values())) / sum(rw.values()))
        lib = LIBRARY_MEDIAN[t] * donor_lib[d] * rng.lognormal(0.0, 0.45, size=n)
        mean = lib[:, None] * prof[k][None, :] * donor_gene[d]
        lam = rng.gamma(DISPERSION, mean / DISPERSION)
        x = rng.poisson(lam).astype(np.float32)
        rows.append(sp.csr_matrix(x))
        cell_type += [t] * n
        donor += [DONORS[i] for i in d]
        region += list(reg)
    X = sp.vstack(rows, format="csr", dtype=np.float32)

    # Shuffle cells so files read in blocks see every type, as a real atlas's order would.
    order = rng.permutation(X.shape[0])
    X = X[order]
    X.sort_indices()
    obs = pd.DataFrame({
        "cell_type": pd.Categorical(np.array(cell_type)[order], categories=types),
        "donor_id": pd.Categorical(np.array(donor)[order], categories=DONORS),
        "tissue": pd.Categorical(np.array(region)[order], categories=REGIONS),
    }, index=[f"{donor[i]}_{j:05d}" for j, i in enumerate(order)])
    var = pd.DataFrame({"feature_name": genes}, index=pd.Index(genes, name=None))
    return anndata.AnnData(X=X, obs=obs, var=var)


def ranked_genes(row_idx, row_val, genes):
    """Genes with nonzero count, highest first, ties in var order (stable sort)."""
    order = np.argsort(-row_val, kind="stable")
    return [genes[row_idx[i]] for i in order]


def c2s_prompt(sentence_genes):
    return (f"The following is a list of {len(sentence_genes)} gene names ordered by descending expression level in a "
            f"{ORGANISM} cell. Your task is to give the cell type which this cell belongs to based on its gene "
            f"expression.\nCell sentence: {' '.join(sentence_genes)}.\nThe cell type corresponding to these genes is:")


def summary(adata, markers):
    X = adata.X
    genes = list(adata.var_names)
    n_genes = np.diff(X.indptr)
    print(f"cells {adata.n_obs}, genes {adata.n_vars}, stored counts {X.nnz}, "
          f"median genes per cell {int(np.median(n_genes))} (10%-90%: {int(np.percentile(n_genes, 10))}-"
          f"{int(np.percentile(n_genes, 90))}), median UMIs {int(np.median(np.asarray(X.sum(axis=1)).ravel()))}")
    print(f"{'cell type':28s} {'cells':>5s} {'top marker':>10s} {'median rank':>11s} {'in top 200':>10s} "
          f"{'markers in top 200 (mean)':>26s}")
    ct = adata.obs["cell_type"].to_numpy()
    for t, ms in markers.items():
        rows = np.flatnonzero(ct == t)
        top = ms[0][0]
        ranks, in_top, marker_hits = [], 0, []
        for r in rows:
            a, b = X.indptr[r], X.indptr[r + 1]
            ranked = ranked_genes(X.indices[a:b], X.data[a:b], genes)
            pos = {gname: i for i, gname in enumerate(ranked)}
            rank = pos.get(top, len(ranked))
            ranks.append(rank)
            in_top += rank < TOP_K
            marker_hits.append(sum(pos.get(m, TOP_K) < TOP_K for m, _ in ms) / len(ms))
        print(f"{t:28s} {len(rows):5d} {top:>10s} {np.median(ranks):11.0f} {in_top / len(rows):10.0%} "
              f"{np.mean(marker_hits):26.0%}")


def write_prompts(adata, path):
    X = adata.X
    genes = list(adata.var_names)
    with open(path, "w") as f:
        for r, t in enumerate(adata.obs["cell_type"]):
            a, b = X.indptr[r], X.indptr[r + 1]
            sentence = ranked_genes(X.indices[a:b], X.data[a:b], genes)[:TOP_K]
            f.write(f"{c2s_prompt(sentence)} {t}.\n")
    print(f"wrote {adata.n_obs} prompts to {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "heart_demo.h5ad"))
    ap.add_argument("--prompts", help="also write one C2S prompt + answer per cell to this text file")
    args = ap.parse_args()

    gene_rows = read_tsv(HERE / "genes.tsv")
    roles = {r["gene"]: r["role"] for r in gene_rows}
    genes = sorted(roles)  # var in alphabetical order, so ties broken by gene order favour no role
    markers = {}
    for r in read_tsv(HERE / "markers.tsv"):
        if r["gene"] not in roles:
            raise SystemExit(f"markers.tsv: gene {r['gene']} ({r['cell_type']}) is not in genes.tsv")
        markers.setdefault(r["cell_type"], []).append((r["gene"], float(r["weight"])))
    if set(markers) != set(SHARES):
        raise SystemExit(f"markers.tsv cell types {sorted(markers)} differ from the simulated {sorted(SHARES)}")
    for t in markers:
        markers[t].sort(key=lambda gw: -gw[1])  # stable: first listed of the strongest is 'top marker'

    adata = simulate(genes, roles, markers)
    adata.write_h5ad(args.out, compression="gzip", compression_opts=9)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB)")
    summary(adata, markers)
    if args.prompts:
        write_prompts(adata, args.prompts)


if __name__ == "__main__":
    main()
