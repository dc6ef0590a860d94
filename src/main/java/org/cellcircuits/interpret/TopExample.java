package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.Comparator;

/**
 * One token on which a feature fired, as the feature's page lists it.
 *
 * @param cellId the cell
 * @param cellType its annotated type
 * @param position token position in the prompt
 * @param gene the gene the token spells, or null outside every gene
 * @param geneRank that gene's rank in the cell sentence, or -1
 * @param activation the feature's activation z at this token (> 0)
 */
public record TopExample(String cellId, String cellType, int position, String gene, int geneRank, float activation)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  /**
   * Strongest first; equal activations by cell id, then position. Cell id and position name a harvested token
   * uniquely, so this order is total over a layer's tokens, and the top k of any partition of them, merged in any
   * order, are the same k.
   */
  public static final Comparator<TopExample> STRONGEST_FIRST = Comparator
      .comparingDouble((TopExample e) -> e.activation).reversed()
      .thenComparing(TopExample::cellId)
      .thenComparingInt(TopExample::position);

  static TopExample of(HarvestedToken token, float activation) {
    return new TopExample(token.cellId(), token.cellType(), token.position(), token.gene(), token.geneRank(),
        activation);
  }
}
