package org.cellcircuits.sentences;

import java.util.List;
import java.util.Objects;

/**
 * What an atlas holds, without its counts.
 *
 * @param source      the file or folder it came from, for error messages
 * @param nCells      number of rows (cells)
 * @param geneSymbols one symbol per column, as stored (upper-casing is the sentence builder's choice)
 * @param obsColumns  names of the per-cell annotation columns available
 */
public record AtlasMeta(String source, long nCells, List<String> geneSymbols, List<String> obsColumns) {
  public AtlasMeta {
    Objects.requireNonNull(source, "source");
    if (nCells < 0) {
      throw new IllegalArgumentException(String.format("atlas %s: nCells is invalid: %d", source, nCells));
    }
    geneSymbols = List.copyOf(geneSymbols);
    obsColumns = List.copyOf(obsColumns);
  }

  public int nGenes() {
    return geneSymbols.size();
  }
}
