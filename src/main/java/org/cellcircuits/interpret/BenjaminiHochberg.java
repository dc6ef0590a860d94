package org.cellcircuits.interpret;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;

/**
 * Benjamini-Hochberg adjusted p-values (q-values) for a family of tests, controlling the false discovery rate
 * (Benjamini and Hochberg 1995, J. R. Stat. Soc. B 57:289), as R's {@code p.adjust(p, "BH")}: with the m p-values
 * sorted ascending, {@code q_(i) = min over j >= i of min(1, m p_(j) / j)}.
 */
public final class BenjaminiHochberg {
  private BenjaminiHochberg() {}

  /** q-values of {@code pValues}, in their order; m is their number. */
  public static double[] adjust(double[] pValues) {
    return adjust(pValues, pValues.length);
  }

  /**
   * q-values of {@code pValues}, in their order, within a family of {@code m} tests whose other
   * {@code m - pValues.length} p-values are 1 (tests with no overlap at all, which are counted but not listed). Those
   * extra tests sort last and, with q >= 1 there, never lower a listed q, so this equals adjusting the full list.
   */
  public static double[] adjust(double[] pValues, long m) {
    int n = pValues.length;
    if (m < n) {
      throw new IllegalArgumentException(String.format("family of %d tests; %d p-values listed", m, n));
    }
    for (int i = 0; i < n; i++) {
      if (!(pValues[i] >= 0 && pValues[i] <= 1)) {
        throw new IllegalArgumentException(String.format(Locale.ROOT, "p-value %d is %s; must be in [0, 1]",
            i, pValues[i]));
      }
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingDouble(i -> pValues[i]));
    double[] q = new double[n];
    double running = 1.0;
    for (int r = n - 1; r >= 0; r--) {  // from the largest p down, keeping the minimum so far
      int i = order[r];
      running = Math.min(running, pValues[i] * m / (r + 1));
      q[i] = running;
    }
    return q;
  }
}
