package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The running totals of one layer's dictionary over a pass of harvested tokens, shaped for Spark's
 * {@code aggregate}/{@code treeAggregate}: each task {@link #add}s its tokens' feature activations, and the combiner
 * {@link #merge}s task results. Any split of the tokens, merged in any order, gives the same counts and top examples
 * and the same sums up to rounding.
 *
 * <p>Besides the per-feature totals it counts the tokens seen, overall and per cell type: the denominators of the
 * firing frequency and of the mean activation per cell type, in which the tokens a feature did not fire on count as 0.
 * It also keeps the set of genes seen, the universe that gene-set enrichment draws from.
 *
 * <p>A feature's {@link FeatureAccumulator} is made when it first fires, so a dead feature costs one null slot.
 */
public final class LayerAccumulator implements Serializable {
  private static final long serialVersionUID = 1L;

  private final int featureCount;
  private final int topExamples;
  private long tokensSeen;
  private final HashMap<String, Long> tokensByCellType = new HashMap<>();
  private final HashSet<String> genesSeen = new HashSet<>();
  private final FeatureAccumulator[] features;

  /**
   * @param featureCount the dictionary size d_sae (>= 1)
   * @param topExamples strongest tokens kept per feature (>= 1)
   */
  public LayerAccumulator(int featureCount, int topExamples) {
    if (featureCount < 1) {
      throw new IllegalArgumentException(String.format("feature count is %d; must be >= 1", featureCount));
    }
    if (topExamples < 1) {
      throw new IllegalArgumentException(String.format("top examples is %d; must be >= 1", topExamples));
    }
    this.featureCount = featureCount;
    this.topExamples = topExamples;
    this.features = new FeatureAccumulator[featureCount];
  }

  /**
   * Counts one token and every feature that fired on it.
   *
   * @param z the token's feature activations, {@code Transcoder.encode} of its MLP input: d_sae values, each 0 or
   *     positive (all four activations give z = 0 or z = pre-activation > 0)
   */
  public void add(HarvestedToken token, float[] z) {
    if (z.length != featureCount) {
      throw new IllegalArgumentException(String.format(
          "cell %s position %d: %d feature activations; the dictionary has %d features",
          token.cellId(), token.position(), z.length, featureCount));
    }
    tokensSeen++;
    tokensByCellType.merge(token.cellType(), 1L, Long::sum);
    if (token.isGene()) {
      genesSeen.add(token.gene());
    }
    for (int f = 0; f < featureCount; f++) {
      float v = z[f];
      if (v == 0) {
        continue;
      }
      if (!(v > 0) || Float.isInfinite(v)) {
        // A negative z would make "share of the mass" meaningless; none of the four activations produces one.
        throw new IllegalArgumentException(String.format(
            "cell %s position %d: feature %d has activation %s; interpretation expects z = 0 or a finite z > 0",
            token.cellId(), token.position(), f, v));
      }
      if (features[f] == null) {
        features[f] = new FeatureAccumulator(topExamples);
      }
      features[f].fire(token, v);
    }
  }

  /**
   * Adds another partition's totals into this one and returns this. {@code other} must not be used afterwards: its
   * per-feature totals may be taken over rather than copied.
   */
  public LayerAccumulator merge(LayerAccumulator other) {
    if (other.featureCount != featureCount || other.topExamples != topExamples) {
      throw new IllegalArgumentException(String.format(
          "cannot merge totals of %d features x %d examples into %d features x %d examples",
          other.featureCount, other.topExamples, featureCount, topExamples));
    }
    tokensSeen += other.tokensSeen;
    other.tokensByCellType.forEach((k, v) -> tokensByCellType.merge(k, v, Long::sum));
    genesSeen.addAll(other.genesSeen);
    for (int f = 0; f < featureCount; f++) {
      FeatureAccumulator theirs = other.features[f];
      if (theirs == null) {
        continue;
      }
      if (features[f] == null) {
        features[f] = theirs;
      } else {
        features[f].merge(theirs);
      }
    }
    return this;
  }

  public int featureCount() {
    return featureCount;
  }

  public int topExamples() {
    return topExamples;
  }

  /** Tokens counted, fired on or not. */
  public long tokensSeen() {
    return tokensSeen;
  }

  /** Tokens counted per cell type, sorted by type. */
  public Map<String, Long> tokensByCellType() {
    return Collections.unmodifiableMap(new TreeMap<>(tokensByCellType));
  }

  /** Every gene symbol that appeared on a counted token: the universe of gene-set enrichment. */
  public Set<String> genesSeen() {
    return Collections.unmodifiableSet(genesSeen);
  }

  /** One feature's totals; an empty accumulator for a feature that never fired. */
  public FeatureAccumulator feature(int f) {
    if (f < 0 || f >= featureCount) {
      throw new IndexOutOfBoundsException(String.format("feature %d; the dictionary has %d", f, featureCount));
    }
    return features[f] != null ? features[f] : new FeatureAccumulator(topExamples);
  }
}
