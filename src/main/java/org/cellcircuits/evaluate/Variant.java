package org.cellcircuits.evaluate;

import java.util.ArrayList;
import java.util.List;

/**
 * One version of the model that evaluate scores. The order of {@link #all} is the order of every per-variant array
 * in {@link EvaluationSums}.
 *
 * @param name {@code original}, {@code replaced_all}, {@code zero_mlp} or {@code replaced_layer_L}
 * @param layer the one layer replaced for {@code replaced_layer_L}; -1 for the others
 */
public record Variant(String name, int layer) {
  public static final String ORIGINAL = "original";
  public static final String REPLACED_ALL = "replaced_all";
  public static final String ZERO_MLP = "zero_mlp";
  /** Index of the original model in {@link #all}. */
  public static final int ORIGINAL_INDEX = 0;
  /** Index of the model with every MLP replaced. */
  public static final int REPLACED_ALL_INDEX = 1;
  /** Index of the model with every MLP zeroed. */
  public static final int ZERO_MLP_INDEX = 2;

  /**
   * original; replaced_all (every layer with a dictionary replaced at once); zero_mlp (every MLP of the model adds
   * nothing); then replaced_layer_L for each dictionary layer, in increasing order.
   */
  public static List<Variant> all(int[] layers) {
    List<Variant> out = new ArrayList<>(List.of(new Variant(ORIGINAL, -1), new Variant(REPLACED_ALL, -1),
        new Variant(ZERO_MLP, -1)));
    for (int layer : layers) {
      out.add(new Variant("replaced_layer_" + layer, layer));
    }
    return out;
  }

  /** Whether cell-type accuracy is measured for it (greedy decoding costs too much to run for every layer alone). */
  public boolean scoresAccuracy() {
    return name.equals(ORIGINAL) || name.equals(REPLACED_ALL);
  }
}
