package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * Where one feature's activation mass (the sum of its activations z over the tokens it fired on) lies: on which genes,
 * at which token positions, in which cell types, and how much on tokens outside every gene.
 *
 * <p>Gene mass is keyed by gene symbol alone: the BPE pieces of one gene in one cell, and the same gene in every cell,
 * add up to one entry, which is what makes a gene split into several tokens count as one gene.
 *
 * <p>Sums are doubles; merging partitions in another order changes them only by rounding.
 */
public final class ActivationMass implements Serializable {
  private static final long serialVersionUID = 1L;

  private double total;
  private double nonGene;
  private final HashMap<String, Double> byGene = new HashMap<>();
  private final HashMap<Integer, Double> byPosition = new HashMap<>();
  private final HashMap<String, Double> byCellType = new HashMap<>();

  /** Adds activation {@code z} (> 0) at {@code token}. */
  public void add(HarvestedToken token, double z) {
    total += z;
    if (token.isGene()) {
      byGene.merge(token.gene(), z, Double::sum);
    } else {
      nonGene += z;
    }
    byPosition.merge(token.position(), z, Double::sum);
    byCellType.merge(token.cellType(), z, Double::sum);
  }

  /** Adds another partition's mass into this one. */
  public ActivationMass merge(ActivationMass other) {
    total += other.total;
    nonGene += other.nonGene;
    other.byGene.forEach((k, v) -> byGene.merge(k, v, Double::sum));
    other.byPosition.forEach((k, v) -> byPosition.merge(k, v, Double::sum));
    other.byCellType.forEach((k, v) -> byCellType.merge(k, v, Double::sum));
    return this;
  }

  /** Sum of z over every token. */
  public double total() {
    return total;
  }

  /** Sum of z over tokens outside every gene (template text, punctuation, answer). */
  public double nonGene() {
    return nonGene;
  }

  /** Sum of z per gene symbol, all of a gene's BPE pieces in all cells together. */
  public Map<String, Double> byGene() {
    return Collections.unmodifiableMap(byGene);
  }

  /** Sum of z per token position. */
  public Map<Integer, Double> byPosition() {
    return Collections.unmodifiableMap(byPosition);
  }

  /** Sum of z per cell type. */
  public Map<String, Double> byCellType() {
    return Collections.unmodifiableMap(byCellType);
  }

  /**
   * Share of the mass at the feature's single heaviest position (0 when the feature never fired): near 1 for a
   * feature that reads where a token is rather than what it is.
   */
  public double topPositionShare() {
    if (total <= 0) {
      return 0;
    }
    double top = 0;
    for (double v : byPosition.values()) {
      top = Math.max(top, v);
    }
    return top / total;
  }

  /** Share of the mass on tokens outside every gene (0 when the feature never fired). */
  public double nonGeneShare() {
    return total <= 0 ? 0 : nonGene / total;
  }
}
