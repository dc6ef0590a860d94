#!/usr/bin/python3
"""Builds demo/genes.tsv: the demo atlas's vocabulary of real human gene symbols, each with where it came from.

Source: Bioconductor's org.Hs.eg.db 3.16.0 as packaged by Debian (r-bioc-org.hs.eg.db; NCBI Entrez Gene, 2022-Sep-12),
an SQLite database of every human gene with its symbol and type. Only the package file is needed, not R:

    apt-get update && apt-get download r-bioc-org.hs.eg.db
    dpkg-deb -x r-bioc-org.hs.eg.db_3.16.0-1_all.deb /tmp/orghs
    /usr/bin/python3 demo/make_genes.py /tmp/orghs/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite

(Debian python3 only: sqlite3, numpy.) Deterministic: background genes are drawn with a fixed seed from the sorted
symbol list. Columns of genes.tsv: gene, entrez_id, gene_type, role (marker | housekeeping | background), source.

The vocabulary: every marker of demo/markers.tsv, housekeeping genes (cytoskeleton, translation, ribosomal proteins,
the 13 mitochondrially encoded proteins, MALAT1), and protein-coding background genes up to N_GENES in all.
Entrez names the mitochondrial genes COX1, ND1, ...; single-cell atlases (Cell Ranger's GRCh38 reference, HCA v2) use
the HGNC symbols MT-CO1, MT-ND1, ..., so those are written with their HGNC symbol and the Entrez id they map to.
"""
import csv
import re
import sqlite3
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N_GENES = 2500
SEED = 20240611
SOURCE = "org.Hs.eg.db 3.16.0 (Entrez Gene 2022-09-12)"

HOUSEKEEPING = (
    "ACTB ACTG1 GAPDH B2M TMSB4X TMSB10 FTL FTH1 EEF1A1 EEF2 TPT1 UBC UBB PPIA MYL6 CFL1 PFN1 HSP90AB1 "
    "TUBA1B SRP14 NACA BTF3 EIF1 HNRNPA1 PTMA NPM1 CALM2 SERF2 UQCRH COX4I1 ATP5F1E"
).split()
# HGNC symbol -> Entrez symbol for the 13 mitochondrially encoded proteins.
MITO = {
    "MT-ND1": "ND1", "MT-ND2": "ND2", "MT-CO1": "COX1", "MT-CO2": "COX2", "MT-ATP8": "ATP8", "MT-ATP6": "ATP6",
    "MT-CO3": "COX3", "MT-ND3": "ND3", "MT-ND4L": "ND4L", "MT-ND4": "ND4", "MT-ND5": "ND5", "MT-ND6": "ND6",
    "MT-CYB": "CYTB",
}
NONCODING_HOUSEKEEPING = ["MALAT1"]  # the most abundant nuclear transcript in single-nucleus data
# Cytoplasmic ribosomal proteins; not the tissue-restricted paralogs (RPL3L, RPL10L, RPL39L, ...) nor RPS4Y1/2.
RIBOSOMAL = re.compile(r"^(RP[LS]\d+A?|RPLP[012]|RPSA|RPS4X)$")
# Plain symbols only: upper-case letters and digits with at most one hyphen, no 'orf' open-reading-frame names.
PLAIN = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)?$")


def main(db_path):
    db = sqlite3.connect(db_path)
    rows = db.execute(
        "select g.gene_id, i.symbol, t.gene_type from genes g "
        "join gene_info i on g._id = i._id join genetype t on g._id = t._id").fetchall()
    by_symbol = {sym: (gid, gtype) for gid, sym, gtype in rows}

    markers = []
    with open(HERE / "markers.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["gene"] not in markers:
                markers.append(row["gene"])

    out = []  # (gene, entrez_id, gene_type, role, source)
    seen = set()

    def add(symbol, entrez_symbol, role, note=""):
        if symbol in seen:
            return
        if entrez_symbol not in by_symbol:
            sys.exit(f"gene {entrez_symbol} (for {symbol}, role {role}) is not in {db_path}")
        gid, gtype = by_symbol[entrez_symbol]
        out.append((symbol, gid, gtype, role, SOURCE + note))
        seen.add(symbol)

    for g in markers:
        add(g, g, "marker")
    for g in HOUSEKEEPING:
        add(g, g, "housekeeping")
    for hgnc, entrez in MITO.items():
        add(hgnc, entrez, "housekeeping", f"; HGNC symbol of Entrez {entrez}")
    for g in NONCODING_HOUSEKEEPING:
        add(g, g, "housekeeping")
    ribosomal = sorted(s for s, (_, t) in by_symbol.items() if t == "protein-coding" and RIBOSOMAL.match(s))
    for g in ribosomal:
        add(g, g, "housekeeping")

    pool = sorted(s for s, (_, t) in by_symbol.items()
                  if t == "protein-coding" and PLAIN.match(s) and s not in seen
                  and not RIBOSOMAL.match(s) and not s.startswith(("LOC", "MT-")))
    rng = np.random.RandomState(SEED)
    need = N_GENES - len(out)
    for g in sorted(rng.choice(pool, size=need, replace=False)):
        add(g, g, "background")

    with open(HERE / "genes.tsv", "w") as f:
        f.write("gene\tentrez_id\tgene_type\trole\tsource\n")
        for r in out:
            f.write("\t".join(map(str, r)) + "\n")
    roles = {}
    for r in out:
        roles[r[3]] = roles.get(r[3], 0) + 1
    print(f"wrote {len(out)} genes to {HERE / 'genes.tsv'}: {roles}; ribosomal {len(ribosomal)}; pool {len(pool)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
