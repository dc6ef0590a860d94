package org.cellcircuits.report;

/**
 * One transcoder feature of one layer.
 *
 * @param layer the block whose MLP the transcoder replaces (>= 0)
 * @param feature the latent index (>= 0)
 */
public record FeatureKey(int layer, int feature) implements Comparable<FeatureKey> {
  public FeatureKey {
    if (layer < 0 || feature < 0) {
      throw new IllegalArgumentException(String.format("feature key (layer %d, feature %d) is invalid: both must be >= 0",
          layer, feature));
    }
  }

  /** The page's file name stem, {@code L<layer>-F<feature>}. */
  public String slug() {
    return "L" + layer + "-F" + feature;
  }

  /** By layer, then feature. */
  @Override
  public int compareTo(FeatureKey o) {
    int c = Integer.compare(layer, o.layer);
    return c != 0 ? c : Integer.compare(feature, o.feature);
  }

  /** {@code L<layer> #<feature>}, as the pages print it. */
  @Override
  public String toString() {
    return "L" + layer + " #" + feature;
  }
}
