package org.cellcircuits.evaluate;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Sums over held-out cells from which every figure of the evaluation is a ratio, so partitions add up exactly (up
 * to floating-point order) whatever the partitioning: token counts, summed negative log-likelihoods and KLs per
 * {@link Variant}, correct answers, and per dictionary layer the reconstruction error, the target's first and second
 * moments, active features and how often each feature fired. Mutable: the evaluator of one partition fills one, the
 * driver folds them with {@link #add}.
 */
public final class EvaluationSums implements Serializable {
  private static final long serialVersionUID = 1L;

  final int[] layers;
  final int[] targetWidth;
  final int[] dSae;
  final int variants;

  /** Cells scored. */
  long cells;
  /** Cells with an annotated cell type (they have answer tokens and count for accuracy). */
  long annotatedCells;
  /** Answer tokens scored (the same for every variant). */
  long answerTokens;
  /** Next-token positions scored over prompt + answer (the same for every variant). */
  long allTokens;
  /** Per variant: summed -log p(answer token | everything before). */
  final double[] answerNll;
  /** Per variant: summed -log p(next token) over every position of prompt + answer. */
  final double[] allNll;
  /** Per variant: summed KL(original || variant) over the same positions as {@link #allNll}. */
  final double[] kl;
  /** Per variant: summed KL(original || variant) over the answer positions. */
  final double[] answerKl;
  /** Per variant: annotated cells whose greedy answer is the annotation (only where accuracy is scored). */
  final long[] correct;

  /** Per layer: tokens the dictionary was scored on. */
  final long[] evTokens;
  /** Per layer: summed squared error of the reconstruction. */
  final double[] sse;
  /** Per layer: per target dimension, the sum of the target. */
  final double[][] targetSum;
  /** Per layer: summed squared norm of the target. */
  final double[] targetSumSq;
  /** Per layer: active features summed over tokens. */
  final long[] active;
  /** Per layer: per feature, tokens where it fired (z > 0). */
  final long[][] fired;

  /**
   * @param layers dictionary layers, increasing
   * @param targetWidth per layer, width of what it reconstructs (d_out for a transcoder, d_in for an SAE)
   * @param dSae per layer, number of features
   */
  public EvaluationSums(int[] layers, int[] targetWidth, int[] dSae) {
    if (layers.length != targetWidth.length || layers.length != dSae.length) {
      throw new IllegalArgumentException(String.format("%d layers but %d target widths and %d feature counts",
          layers.length, targetWidth.length, dSae.length));
    }
    this.layers = layers.clone();
    this.targetWidth = targetWidth.clone();
    this.dSae = dSae.clone();
    this.variants = Variant.all(layers).size();
    answerNll = new double[variants];
    allNll = new double[variants];
    kl = new double[variants];
    answerKl = new double[variants];
    correct = new long[variants];
    int n = layers.length;
    evTokens = new long[n];
    sse = new double[n];
    targetSum = new double[n][];
    targetSumSq = new double[n];
    active = new long[n];
    fired = new long[n][];
    for (int i = 0; i < n; i++) {
      targetSum[i] = new double[targetWidth[i]];
      fired[i] = new long[dSae[i]];
    }
  }

  /** Adds {@code o} into this one and returns this. */
  public EvaluationSums add(EvaluationSums o) {
    if (!Arrays.equals(layers, o.layers) || !Arrays.equals(targetWidth, o.targetWidth)
        || !Arrays.equals(dSae, o.dSae)) {
      throw new IllegalArgumentException(String.format(
          "cannot add evaluation sums of layers %s (widths %s, features %s) to sums of layers %s (%s, %s)",
          Arrays.toString(o.layers), Arrays.toString(o.targetWidth), Arrays.toString(o.dSae), Arrays.toString(layers),
          Arrays.toString(targetWidth), Arrays.toString(dSae)));
    }
    cells += o.cells;
    annotatedCells += o.annotatedCells;
    answerTokens += o.answerTokens;
    allTokens += o.allTokens;
    for (int v = 0; v < variants; v++) {
      answerNll[v] += o.answerNll[v];
      allNll[v] += o.allNll[v];
      kl[v] += o.kl[v];
      answerKl[v] += o.answerKl[v];
      correct[v] += o.correct[v];
    }
    for (int i = 0; i < layers.length; i++) {
      evTokens[i] += o.evTokens[i];
      sse[i] += o.sse[i];
      targetSumSq[i] += o.targetSumSq[i];
      active[i] += o.active[i];
      for (int k = 0; k < targetWidth[i]; k++) {
        targetSum[i][k] += o.targetSum[i][k];
      }
      for (int k = 0; k < dSae[i]; k++) {
        fired[i][k] += o.fired[i][k];
      }
    }
    return this;
  }

  public int[] layers() {
    return layers.clone();
  }

  public long cells() {
    return cells;
  }
}
