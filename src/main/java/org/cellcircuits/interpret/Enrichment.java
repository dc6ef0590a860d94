package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.List;

/**
 * One feature's top genes tested against one gene set.
 *
 * @param feature index in the layer's dictionary
 * @param geneSet the set's name (for marker tables, a cell type)
 * @param overlapGenes the feature's top genes that are in the set, in the feature's order
 * @param setSize K, the set's genes within the universe
 * @param topGenes n, the feature's top genes tested
 * @param universe N, genes seen in the harvest
 * @param pValue hypergeometric P(overlap >= observed)
 * @param qValue Benjamini-Hochberg adjusted over every (feature, set) test of the layer
 */
public record Enrichment(int feature, String geneSet, List<String> overlapGenes, int setSize, int topGenes,
                         int universe, double pValue, double qValue) implements Serializable {
  private static final long serialVersionUID = 1L;

  public Enrichment {
    overlapGenes = List.copyOf(overlapGenes);
  }

  /** k, the number of top genes in the set. */
  public int overlap() {
    return overlapGenes.size();
  }
}
