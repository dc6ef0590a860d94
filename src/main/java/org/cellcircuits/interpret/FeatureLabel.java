package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.Objects;

/**
 * A feature's one-word reading, written {@code gene:VWF}, {@code celltype:endothelial cell}, {@code prompt-template},
 * {@code position}, {@code dead} or {@code unlabelled}.
 *
 * <p>The rules, tried in this order; the first that holds gives the label:
 * <ol>
 *   <li>{@code dead}: the feature never fired on a harvested token.
 *   <li>{@code gene:<SYMBOL>}: its gene-level score (share of mass on its top gene, all BPE pieces together) is at
 *       least {@code gene-level-threshold}. A gene feature is usually also cell-type specific (its gene is a marker),
 *       and the gene is the finer reading, so it comes first.
 *   <li>{@code celltype:<type>}: its cell-type specificity (tau) is at least {@code cell-type-threshold}; the type is
 *       the one with the highest mean activation.
 *   <li>{@code prompt-template}: at least {@code template-threshold} of its mass is on tokens outside every gene
 *       (template text, punctuation, answer).
 *   <li>{@code position}: at least {@code position-threshold} of its mass is at one token position. Checked after
 *       the template rule because template text sits at fixed positions, so a template feature looks positional too;
 *       what is left is a feature that fires at one position whatever gene stands there.
 *   <li>{@code unlabelled}: none of the above.
 * </ol>
 *
 * @param kind which rule
 * @param subject the gene symbol or cell type for {@link Kind#GENE} and {@link Kind#CELL_TYPE}; null otherwise
 */
public record FeatureLabel(Kind kind, String subject) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The rules' outcomes, with the text each is written as. */
  public enum Kind {
    DEAD("dead"), GENE("gene"), CELL_TYPE("celltype"), PROMPT_TEMPLATE("prompt-template"), POSITION("position"),
    UNLABELLED("unlabelled");

    private final String text;

    Kind(String text) {
      this.text = text;
    }

    public String text() {
      return text;
    }

    boolean hasSubject() {
      return this == GENE || this == CELL_TYPE;
    }
  }

  public FeatureLabel {
    Objects.requireNonNull(kind, "kind");
    if (kind.hasSubject() == (subject == null || subject.isEmpty())) {
      throw new IllegalArgumentException(String.format(
          "label %s with subject '%s': gene and celltype labels name one, the others none", kind.text(), subject));
    }
  }

  /**
   * Applies the rules above.
   *
   * @param firingCount tokens the feature fired on
   * @param genes its gene-level score
   * @param cellTypes its cell-type profile
   * @param mass its activation mass (for the template and position shares)
   */
  public static FeatureLabel assign(long firingCount, GeneLevelScore genes, CellTypeProfile cellTypes,
                                    ActivationMass mass, InterpretParams params) {
    if (firingCount == 0) {
      return new FeatureLabel(Kind.DEAD, null);
    }
    if (genes.topGene() != null && genes.topGeneShare() >= params.geneLevelThreshold()) {
      return new FeatureLabel(Kind.GENE, genes.topGene());
    }
    if (cellTypes.topType() != null && cellTypes.specificity() >= params.cellTypeThreshold()) {
      return new FeatureLabel(Kind.CELL_TYPE, cellTypes.topType());
    }
    if (mass.nonGeneShare() >= params.templateThreshold()) {
      return new FeatureLabel(Kind.PROMPT_TEMPLATE, null);
    }
    if (mass.topPositionShare() >= params.positionThreshold()) {
      return new FeatureLabel(Kind.POSITION, null);
    }
    return new FeatureLabel(Kind.UNLABELLED, null);
  }

  /** {@code gene:VWF}, {@code celltype:<type>}, or the kind's word alone. */
  public String text() {
    return kind.hasSubject() ? kind.text() + ":" + subject : kind.text();
  }

  @Override
  public String toString() {
    return text();
  }
}
