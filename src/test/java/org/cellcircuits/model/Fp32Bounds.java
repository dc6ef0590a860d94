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

  /**
   * How far one float32 evaluation of an n-term sum of products can be from the exact value, in any order: gamma_n *
   * sum|a_i b_i| (Higham (3.5)), half of {@link #twoOrders}. For a float32 result against a reference computed in
   * doubles from the same float32 inputs, whose own error (a product of two floats is exact in a double) is some 2^29
   * times smaller.
   */
  public static double oneOrder(int n, double sumAbs) {
    return twoOrders(n, sumAbs) / 2;
  }

  /**
   * Two fp32 log-softmaxes of the same logits over a vocabulary of {@code vocab}: log sum_k exp(l_k - m) is within
   * gamma_{V+2} of exact (V terms, each exp and its argument's subtraction within a few u of relative error, each
   * |l_k - m| u <= 2 max|l| u), and l_k - m - log(...) adds a few roundings of max|l|'s size: twoOrders(V + 2, 1) +
   * twoOrders(8, 1 + max|l|). Also covers one fp32 log-softmax against one in doubles.
   */
  public static double logSoftmaxOwn(int vocab, double maxAbsLogit) {
    return twoOrders(vocab + 2, 1) + twoOrders(8, 1 + maxAbsLogit);
  }

  /**
   * Scaled bound for two float32 evaluations of a deep composition (a forward or backward pass, a chain of products)
   * in different summation orders: 2 gamma_n magnitude. For a chain of matrix products each evaluation is within
   * gamma_{n_1 + ... + n_L} |A_L|...|A_1||x| of the exact value, whatever the orders (Higham (3.7)); here n is that
   * summed reduction length along the chain and {@code magnitude} (the largest |value| compared) stands in for
   * |A_L|...|A_1||x|, with LayerNorm, softmax and GELU taken to pass relative errors on with a factor of order one.
   * That substitution is the step that is not proved, so every use is checked to hold with a margin of at least 10x
   * under 1 and 2 libtorch threads ({@code -Dtest.torch.threads=2}), and says what it measured.
   *
   * @param n summed reduction lengths along the longest chain (e.g. {@link #forwardChain})
   * @param magnitude the largest |value| among those compared
   */
  public static double deep(long n, double magnitude) {
    return twoOrders(Math.toIntExact(n), magnitude);
  }

  /**
   * Summed reduction lengths along the longest chain of a GPT-NeoX forward pass over {@code positions} tokens up to
   * the logits: per block LayerNorm's mean and variance (2C), QKV (C), scores (head size), softmax's sum and pattern
   * x V (2T), the output projection (C), the MLP (C + d_mlp) and the residual adds (3); then ln_final (2C) and the
   * unembedding (C).
   */
  public static long forwardChain(NeoXConfig c, int positions) {
    long d = c.hiddenSize();
    long block = 2 * d + d + c.headSize() + 2L * positions + d + d + c.intermediateSize() + 3;
    return c.numLayers() * block + 2 * d + d;
  }

  /** The largest |v|, in doubles. */
  public static double maxAbs(float[] values) {
    double m = 0;
    for (float v : values) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }
}
