package org.cellcircuits.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import org.cellcircuits.io.ConfigChecks;

/**
 * Groups sequences into forward batches of similar length, so that padding (compute spent on nothing) stays small.
 *
 * <p>The sequences are sorted by length, longest first, and cut greedily: a batch grows while
 * {@code rows × longest row} stays within the token budget. Sorted neighbours differ little in length, so the padding
 * of a batch is the spread of a few neighbouring lengths; over a partition of hundreds of cells it is a few percent.
 * Longest first puts the largest batch first, so a budget too large for the device fails at once, not at the end.
 * A sequence longer than the budget runs alone.
 */
public final class LengthBatches {
  private final List<int[]> batches;
  private final long realTokens;
  private final long paddedTokens;

  private LengthBatches(List<int[]> batches, long realTokens, long paddedTokens) {
    this.batches = batches;
    this.realTokens = realTokens;
    this.paddedTokens = paddedTokens;
  }

  /**
   * @param lengths tokens per sequence (each >= 1)
   * @param tokensPerBatch most padded tokens (rows × longest row) per batch, >= 1
   * @return batches of indices into {@code lengths}; every index appears in exactly one batch
   */
  public static LengthBatches of(int[] lengths, long tokensPerBatch) {
    ConfigChecks.atLeast("tokens per batch", tokensPerBatch, 1);
    List<Integer> order = new ArrayList<>(lengths.length);
    for (int i = 0; i < lengths.length; i++) {
      if (lengths[i] < 1) {
        throw ConfigChecks.invalid("length of sequence " + i, lengths[i] + " tokens", ">= 1 token");
      }
      order.add(i);
    }
    // Ties broken by index, so the batches (and the order rows are written in) do not depend on the sort's stability.
    order.sort(Comparator.<Integer>comparingInt(i -> -lengths[i]).thenComparingInt(i -> i));
    List<int[]> batches = new ArrayList<>();
    long real = 0;
    long padded = 0;
    int from = 0;
    while (from < order.size()) {
      int longest = lengths[order.get(from)];
      int rows = (int) Math.max(1, Math.min(order.size() - from, tokensPerBatch / longest));
      int[] batch = new int[rows];
      for (int r = 0; r < rows; r++) {
        batch[r] = order.get(from + r);
        real += lengths[batch[r]];
      }
      padded += (long) rows * longest;
      batches.add(batch);
      from += rows;
    }
    return new LengthBatches(Collections.unmodifiableList(batches), real, padded);
  }

  /** Index lists, longest sequences first. */
  public List<int[]> batches() {
    return batches;
  }

  /** Sum of the sequences' lengths. */
  public long realTokens() {
    return realTokens;
  }

  /** Sum over batches of rows × longest row: the positions the forward passes compute. */
  public long paddedTokens() {
    return paddedTokens;
  }

  /** Share of computed positions that are padding, in [0, 1). */
  public double paddingWaste() {
    return paddedTokens == 0 ? 0.0 : 1.0 - (double) realTokens / paddedTokens;
  }
}
