package org.cellcircuits.interpret;

import java.util.Objects;

/**
 * One input gene or one transcoder feature of a cell's circuit, with its attribution to the circuit's target: what the
 * knockout check removes and what it predicts the removal costs.
 *
 * @param kind gene or feature
 * @param gene the gene (its BPE pieces together), or null for a feature
 * @param layer the feature's layer, or -1 for a gene
 * @param feature the feature's index in its layer's dictionary, or -1 for a gene
 * @param positions the token positions of the feature's nodes in the circuit (all zeroed together); empty for a gene
 * @param attribution the summed attribution of the unit's nodes (a gene's tokens, a feature's positions)
 */
public record AttributedUnit(Kind kind, String gene, int layer, int feature, int[] positions, double attribution)
    implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  /** What a knockout removes. */
  public enum Kind {
    /** An input gene, taken out of the cell sentence. */
    GENE,
    /** A transcoder feature, zeroed in the replaced model. */
    FEATURE;

    /** The {@code kind} column's value. */
    public String text() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public AttributedUnit {
    Objects.requireNonNull(kind, "kind");
    positions = positions.clone();
    if (kind == Kind.GENE && gene == null) {
      throw new IllegalArgumentException("a gene unit needs its gene");
    }
    if (kind == Kind.FEATURE && (layer < 0 || feature < 0 || positions.length == 0)) {
      throw new IllegalArgumentException(String.format(
          "a feature unit needs a layer, a feature and at least one position; got layer %d, feature %d, %d positions",
          layer, feature, positions.length));
    }
  }

  public static AttributedUnit gene(String gene, double attribution) {
    return new AttributedUnit(Kind.GENE, gene, -1, -1, new int[0], attribution);
  }

  public static AttributedUnit feature(int layer, int feature, int[] positions, double attribution) {
    return new AttributedUnit(Kind.FEATURE, null, layer, feature, positions, attribution);
  }

  @Override
  public int[] positions() {
    return positions.clone();
  }
}
