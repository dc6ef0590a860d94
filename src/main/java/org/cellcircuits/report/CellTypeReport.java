package org.cellcircuits.report;

import java.util.List;
import java.util.Objects;

/**
 * What the report shows for one cell type.
 *
 * @param cellType the type (the circuits' annotation; cells without one are "unannotated")
 * @param cells traced cells of the type
 * @param meanReplacement mean replacement score of its graphs, or null
 * @param meanCompleteness mean completeness score of its graphs, or null
 * @param circuit the merged circuit drawn on its page
 * @param topGenes the {@code circuits/summary} genes of the type, by rank
 * @param topFeatures the {@code circuits/summary} features of the type, by rank
 */
public record CellTypeReport(String cellType, int cells, Double meanReplacement, Double meanCompleteness,
    TypeCircuit circuit, List<Ranked> topGenes, List<Ranked> topFeatures) {

  public CellTypeReport {
    Objects.requireNonNull(cellType, "cell type");
    Objects.requireNonNull(circuit, "circuit of " + cellType);
    topGenes = List.copyOf(topGenes);
    topFeatures = List.copyOf(topFeatures);
  }

  /**
   * One ranked {@code circuits/summary} row: a gene (feature null) or a feature (gene null).
   *
   * @param cells the type's circuits that keep it
   * @param share those cells over the type's traced cells
   */
  public record Ranked(int rank, String gene, FeatureKey feature, long cells, double share, double meanAttribution,
      double meanInfluence) {
    public Ranked {
      if ((gene == null) == (feature == null)) {
        throw new IllegalArgumentException(String.format(
            "summary row %d names gene %s and feature %s; exactly one is expected", rank, gene, feature));
      }
    }
  }
}
