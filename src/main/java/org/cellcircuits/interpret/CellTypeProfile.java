package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * A feature's mean activation per cell type and how specific it is to one type.
 *
 * <p>The mean for type t is the feature's summed z over tokens of type-t cells divided by the number of harvested
 * tokens of type-t cells, tokens it did not fire on counting as 0, so it mixes how often and how strongly the
 * feature fires there. Every type the layer saw is listed, including those where the feature never fired.
 *
 * <p>The specificity is the tissue-specificity index tau of Yanai et al. 2005 (Bioinformatics 21:650), with cell
 * types in place of tissues: {@code tau = sum_t (1 - m_t / max_t m_t) / (n - 1)} over the n types' means m_t. It is 1
 * when the feature is active in one type only and 0 when it is equally active in all; Kryuchkova-Mostacci and
 * Robinson-Rechavi 2017 (Briefings in Bioinformatics 18:205) compared nine such indices on expression data and found
 * tau the most robust. It is 0 when there is only one type (nothing to be specific against) or the feature never
 * fired.
 *
 * @param meanByType mean activation per token, per cell type, sorted by type
 * @param topType the type with the highest mean (ties by name), or null when the feature never fired
 * @param specificity tau in [0, 1]
 */
public record CellTypeProfile(Map<String, Double> meanByType, String topType, double specificity)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public CellTypeProfile {
    meanByType = Collections.unmodifiableMap(new TreeMap<>(meanByType));
  }

  /**
   * @param mass the feature's accumulated mass
   * @param tokensByType the layer's token count per cell type (the means' denominators)
   */
  public static CellTypeProfile of(ActivationMass mass, Map<String, Long> tokensByType) {
    TreeMap<String, Double> means = new TreeMap<>();
    for (Map.Entry<String, Long> e : tokensByType.entrySet()) {
      double sum = mass.byCellType().getOrDefault(e.getKey(), 0.0);
      means.put(e.getKey(), e.getValue() > 0 ? sum / e.getValue() : 0.0);
    }
    for (String type : mass.byCellType().keySet()) {
      if (!means.containsKey(type)) {
        throw new IllegalArgumentException(String.format(
            "the feature fired in cell type '%s', which has no token count in the layer's totals %s",
            type, tokensByType.keySet()));
      }
    }
    String top = null;
    double max = 0;
    for (Map.Entry<String, Double> e : means.entrySet()) {  // by name, so the first of equal means wins
      if (e.getValue() > max) {
        max = e.getValue();
        top = e.getKey();
      }
    }
    return new CellTypeProfile(means, top, tau(means.values().stream().mapToDouble(Double::doubleValue).toArray()));
  }

  /** Yanai's tau of non-negative values; 0 for fewer than two values or all zeros. */
  static double tau(double[] values) {
    int n = values.length;
    double max = 0;
    for (double v : values) {
      max = Math.max(max, v);
    }
    if (n < 2 || max <= 0) {
      return 0;
    }
    double sum = 0;
    for (double v : values) {
      sum += 1 - v / max;
    }
    return sum / (n - 1);
  }
}
