package org.cellcircuits.model;

/**
 * Error bounds for float32 sums whose order is up to the library (blocked matmuls, thread counts, FMA), so that tests
 * comparing two such computations fail on a real difference and never on a summation order.
 */
public final class Fp32Bounds {
  /** Unit roundoff of float32: a correctly rounded operation is exact within a factor (1 + d), |d| <= 2^-24. */
  public static final double U = 0x1p-24;

  private Fp32Bounds() {}

  /**
   * How far two float32 evaluations of the same n-term sum of products (a dot product) can be apart, in any two
   * summation orders. Each is within gamma_n * sum|a_i b_i| of the exact value, gamma_n = n U / (1 - n U), whatever
   * the order or blocking (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., (3.5)); an FMA only
   * removes roundings. Their difference is within twice that.
   *
   * @param n terms in the sum
   * @param sumAbs sum over the terms of |a_i b_i|, in exact arithmetic or in doubles (its own error is negligible)
   */
  public static double twoOrders(int n, double sumAbs) {
    if (n * U >= 1) {
      throw new IllegalArgumentException("n " + n + " is invalid: n * 2^-24 must be below 1");
    }
    return 2 * n * U / (1 - n * U) * sumAbs;
  }
}
