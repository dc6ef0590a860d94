package org.cellcircuits.sentences;

import java.io.Serializable;
import java.util.List;

/**
 * Which genes and cells enter the sentences: the atlas behaves as if it had been subset
 * ({@code adata[cells, genes]}) before cell2sentence ran. Subsetting keeps each row's stored entries in their
 * order, explicit zeros included, so a cell's tie-break draws follow its stored entries <em>among the kept
 * genes</em>; a dropped cell takes no draws at all.
 *
 * <p>Genes are decided first (name exclusion, then expressed-in-at-least-N-cells counted over all cells); then a
 * cell is kept when at least {@code minGenesPerCell} of the kept genes are expressed (value &gt; 0) in it, so
 * every cell that gets a sentence has at least that many expressed genes in it.
 */
public final class AtlasSubset implements Serializable {
  private static final long serialVersionUID = 1L;

  private final int nGenes;
  /** null when every gene is kept: the common case skips the lookup. */
  private final boolean[] keptGenes;
  private final int keptGeneCount;
  private final int minGenesPerCell;

  /**
   * @param nGenes          genes in the atlas
   * @param keptGenes       per gene column, whether it is kept; null keeps all
   * @param minGenesPerCell a cell needs at least this many expressed kept genes (>= 0; 0 keeps every cell)
   */
  public AtlasSubset(int nGenes, boolean[] keptGenes, int minGenesPerCell) {
    if (nGenes < 0) {
      throw new IllegalArgumentException(String.format("nGenes is invalid: %d", nGenes));
    }
    if (keptGenes != null && keptGenes.length != nGenes) {
      throw new IllegalArgumentException(String.format("keptGenes has %d entries; the atlas has %d genes",
          keptGenes.length, nGenes));
    }
    if (minGenesPerCell < 0) {
      throw new IllegalArgumentException(String.format("minGenesPerCell is invalid: %d; need >= 0",
          minGenesPerCell));
    }
    int kept = nGenes;
    if (keptGenes != null) {
      kept = 0;
      for (boolean k : keptGenes) {
        kept += k ? 1 : 0;
      }
    }
    this.nGenes = nGenes;
    this.keptGenes = keptGenes == null || kept == nGenes ? null : keptGenes.clone();
    this.keptGeneCount = kept;
    this.minGenesPerCell = minGenesPerCell;
  }

  /** Every gene and every cell. */
  public static AtlasSubset all(int nGenes) {
    return new AtlasSubset(nGenes, null, 0);
  }

  public int nGenes() {
    return nGenes;
  }

  public boolean keepsGene(int column) {
    return keptGenes == null || keptGenes[column];
  }

  public boolean keepsAllGenes() {
    return keptGenes == null;
  }

  public int keptGeneCount() {
    return keptGeneCount;
  }

  public int minGenesPerCell() {
    return minGenesPerCell;
  }

  /** True when no cell can be dropped and no gene is: the stored counts are then the file's own. */
  public boolean isEverything() {
    return keptGenes == null && minGenesPerCell == 0;
  }

  /**
   * How many stored entries of one cell cell2sentence would shuffle after the subset (its stored kept
   * entries), or -1 when the cell is dropped. Checks every entry (see {@link #checkEntry}).
   */
  public int tieBreakEntries(String atlas, String cellId, List<String> geneSymbols, int[] indices,
                             double[] values, int from, int to) {
    int stored = 0;
    int expressed = 0;
    for (int k = from; k < to; k++) {
      int c = indices[k];
      double v = values[k];
      checkEntry(atlas, cellId, geneSymbols, c, v);
      if (keptGenes == null || keptGenes[c]) {
        stored++;
        if (v > 0) {
          expressed++;
        }
      }
    }
    return expressed >= minGenesPerCell ? stored : -1;
  }

  /**
   * Counts must be finite and >= 0 and columns inside the atlas: cell2sentence would rank a NaN or a negative
   * value silently somewhere, which no expression level means.
   */
  static void checkEntry(String atlas, String cellId, List<String> geneSymbols, int column, double value) {
    if (column < 0 || column >= geneSymbols.size()) {
      throw new IllegalArgumentException(String.format(
          "atlas %s: cell %s stores gene column %d; expected a column in [0, %d)", atlas, cellId, column,
          geneSymbols.size()));
    }
    if (!(value >= 0) || value == Double.POSITIVE_INFINITY) {
      throw new IllegalArgumentException(String.format(
          "atlas %s: cell %s has count %s for gene %s (column %d); expected a finite count >= 0", atlas, cellId,
          value, geneSymbols.get(column), column));
    }
  }
}
