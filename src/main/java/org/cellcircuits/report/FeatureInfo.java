package org.cellcircuits.report;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the interpret stage found about one feature: the columns of its {@code features/} row that the report shows.
 *
 * @param key layer and feature
 * @param kind transcoder or SAE
 * @param firingFrequency tokens with z > 0 over the tokens stored
 * @param topGene the gene holding most of its activation mass, or null
 * @param topGeneShare that gene's share of the mass
 * @param topGenes its heaviest genes, heaviest first
 * @param topCellType the cell type with the highest mean activation, or null
 * @param cellTypeTau Yanai's tau over the per-type means (0 = equal everywhere, 1 = one type only)
 * @param meanByCellType mean activation per token in each cell type
 * @param label the stage's label ({@code gene:VWF}, {@code celltype:...}, {@code dead}, ...)
 * @param labelKind the rule that gave the label
 * @param examples its strongest tokens, strongest first
 * @param enrichedSet the gene set its top genes are most enriched in, or null
 * @param enrichmentQ that test's Benjamini-Hochberg q, or null
 */
public record FeatureInfo(FeatureKey key, String kind, double firingFrequency, String topGene, double topGeneShare,
    List<String> topGenes, String topCellType, double cellTypeTau, Map<String, Double> meanByCellType, String label,
    String labelKind, List<Example> examples, String enrichedSet, Double enrichmentQ) {

  public FeatureInfo {
    Objects.requireNonNull(key, "feature key");
    topGenes = List.copyOf(topGenes == null ? List.of() : topGenes);
    meanByCellType = Map.copyOf(meanByCellType == null ? Map.of() : meanByCellType);
    examples = List.copyOf(examples == null ? List.of() : examples);
    if (label == null || label.isBlank()) {
      throw new IllegalArgumentException("feature " + key + " has no label");
    }
  }

  /**
   * One of the feature's strongest tokens.
   *
   * @param gene the gene the token spells, or null outside genes
   * @param geneRank that gene's rank in the cell sentence, or null
   */
  public record Example(String cellId, String cellType, int pos, String gene, Integer geneRank, double activation) {}
}
