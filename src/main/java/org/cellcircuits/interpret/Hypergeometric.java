package org.cellcircuits.interpret;

import org.apache.commons.math3.distribution.HypergeometricDistribution;

/**
 * The one-sided hypergeometric test of over-representation (the test of GSEA's and Enrichr's overlap statistics, and
 * Fisher's exact test's upper tail): drawing {@code draws} genes without replacement from a universe of
 * {@code universe} genes, {@code inSet} of which belong to a gene set, how likely is an overlap of at least
 * {@code overlap}?
 *
 * <p>Computed with commons-math3's {@link HypergeometricDistribution} (3.6.1, which Spark already brings), whose
 * probabilities come from Loader's saddle-point expansion in log space, so single terms neither overflow nor cancel;
 * the tail sums them from the smallest term up. It is checked against exact BigInteger binomials in the tests.
 */
public final class Hypergeometric {
  private Hypergeometric() {}

  /**
   * P(X >= overlap) for X ~ Hypergeometric(universe, inSet, draws).
   *
   * @param overlap genes drawn that are in the set
   * @param universe N, all genes that could be drawn (>= 0)
   * @param inSet K, genes of the universe in the set (0 <= K <= N)
   * @param draws n, genes drawn (0 <= n <= N)
   */
  public static double upperTail(int overlap, int universe, int inSet, int draws) {
    if (universe < 0 || inSet < 0 || inSet > universe || draws < 0 || draws > universe) {
      throw new IllegalArgumentException(String.format(
          "hypergeometric test of %d drawn of %d genes, %d of them in the set: need 0 <= set, drawn <= universe",
          draws, universe, inSet));
    }
    if (overlap > Math.min(inSet, draws)) {
      throw new IllegalArgumentException(String.format(
          "overlap %d is larger than the set (%d genes) or the draw (%d genes)", overlap, inSet, draws));
    }
    if (overlap <= 0) {
      return 1.0;
    }
    // No random generator: the distribution is only evaluated, never sampled (the default constructor seeds one).
    return new HypergeometricDistribution(null, universe, inSet, draws).upperCumulativeProbability(overlap);
  }
}
