package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.Objects;

/**
 * What the interpretation knows about one harvested token besides its MLP input: one row of {@code activations/}
 * ({@link org.cellcircuits.harvest.ActivationSchema}) joined with its cell's annotated type.
 *
 * <p>Every BPE piece of a gene carries that gene's symbol and sentence rank (the harvest assigns a token to the gene
 * containing its first non-space character, {@link org.cellcircuits.model.TokenizedPrompt}), so the pieces of
 * {@code PECAM1} in one cell are the tokens with that cell id and that rank, and the interpretation adds them up as
 * one gene.
 *
 * @param cellId the sentences table's cell id
 * @param cellType the cell's annotated type
 * @param position token position in the prompt (0 = first token)
 * @param gene the gene the token spells, or null for template text, punctuation and answer tokens
 * @param geneRank that gene's position in the cell sentence (0 = highest expression), or -1 when {@code gene} is null
 */
public record HarvestedToken(String cellId, String cellType, int position, String gene, int geneRank)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public HarvestedToken {
    Objects.requireNonNull(cellId, "cellId");
    Objects.requireNonNull(cellType, "cellType");
    if (position < 0) {
      throw new IllegalArgumentException(String.format("cell %s: token position %d is negative", cellId, position));
    }
    if ((gene == null) != (geneRank < 0)) {
      throw new IllegalArgumentException(String.format(
          "cell %s position %d: gene %s with rank %d; a gene token has both a symbol and a rank >= 0, any other "
              + "token neither (rank -1)", cellId, position, gene, geneRank));
    }
  }

  /** A token of the cell sentence: one BPE piece of {@code gene}. */
  public static HarvestedToken gene(String cellId, String cellType, int position, String gene, int geneRank) {
    return new HarvestedToken(cellId, cellType, position, Objects.requireNonNull(gene, "gene"), geneRank);
  }

  /** A token outside every gene: prompt template, punctuation, answer. */
  public static HarvestedToken nonGene(String cellId, String cellType, int position) {
    return new HarvestedToken(cellId, cellType, position, null, -1);
  }

  public boolean isGene() {
    return gene != null;
  }
}
