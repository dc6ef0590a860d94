package org.cellcircuits.interpret;

import java.io.Serializable;

/**
 * Everything one pass over the harvest keeps about one feature: how often it fired, where its activation mass lies,
 * and its strongest tokens. Tokens it did not fire on only count in the layer's {@link LayerAccumulator#tokensSeen}.
 */
public final class FeatureAccumulator implements Serializable {
  private static final long serialVersionUID = 1L;

  private long firingCount;
  private final ActivationMass mass = new ActivationMass();
  private final TopExamples examples;

  /** @param topExamples how many strongest tokens to keep (>= 1) */
  public FeatureAccumulator(int topExamples) {
    this.examples = new TopExamples(topExamples);
  }

  /** Records that the feature fired with activation {@code z} (> 0) at {@code token}. */
  public void fire(HarvestedToken token, float z) {
    firingCount++;
    mass.add(token, z);
    examples.offer(TopExample.of(token, z));
  }

  public FeatureAccumulator merge(FeatureAccumulator other) {
    firingCount += other.firingCount;
    mass.merge(other.mass);
    examples.merge(other.examples);
    return this;
  }

  /** Tokens on which the feature's activation was not zero. */
  public long firingCount() {
    return firingCount;
  }

  public ActivationMass mass() {
    return mass;
  }

  public TopExamples examples() {
    return examples;
  }
}
