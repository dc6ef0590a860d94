package org.cellcircuits.circuits;

import java.util.Arrays;
import org.cellcircuits.io.ConfigChecks;

/**
 * Influence, pruning and faithfulness scores of one {@link AttributionGraph}: circuit-tracer's {@code graph.py}
 * ({@code compute_node_influence}, {@code find_threshold}, {@code prune_graph}, {@code compute_graph_scores}) for a
 * graph with a single target of logit weight 1, plus the paper's top-k path tracing.
 *
 * <p>All arithmetic is in double, row by row over {@link AttributionGraph#row}: a row the graph does not store (error
 * and token nodes) is a row of zeros, so no node-by-node matrix is ever built. The normalised adjacency {@code N} is
 * {@code |A|} with each row divided by its absolute sum (clamped at 1e-10, so an all-zero row stays zero).
 */
public final class GraphPruning {
  /** circuit-tracer's clamp on a row's absolute sum. */
  private static final double MIN_ROW_SUM = 1e-10;

  private GraphPruning() {}

  /**
   * How much each node matters to the target, counting every path, however long.
   *
   * <p>Biologist: for each gene token, feature and error node, the share of the target (a cell-type logit) that flows
   * back to it once each node's input is split among its sources in proportion to their absolute contributions; the
   * shares of the gene tokens and error nodes, where all paths end, add up to 1 when every feature has some input.
   *
   * <p>ML engineer: {@code w (N + N^2 + N^3 + ...)} with {@code w} the one-hot of the target and {@code N} the
   * row-normalised absolute adjacency, i.e. {@code w ((I - N)^-1 - I)}, summed by powers until the term vanishes, as
   * circuit-tracer's {@code compute_node_influence}. The target's own entry is 0 unless something feeds back to it.
   *
   * @return per node index, its influence on the target (>= 0)
   * @throws IllegalStateException when the sum does not terminate within {@code size() + 1} steps: the graph has a
   *     cycle (a feature reading itself or a feature of a later layer)
   */
  public static double[] influence(AttributionGraph g) {
    return propagate(g, null, rowSums(g, null));
  }

  /**
   * The cut-off score that keeps the top scores carrying {@code share} of their total, as circuit-tracer's
   * {@code find_threshold}: sort descending, take cumulative shares, the first position whose cumulative share reaches
   * {@code share} (torch's left {@code searchsorted}), clamped to the last position.
   *
   * <p>Biologist: "keep the most important nodes until they explain this fraction of the total importance"; the
   * value returned is the importance of the least important node still kept.
   *
   * <p>ML engineer: keep {@code scores >= findThreshold(scores, share)}. With {@code share = 0} only the maximum
   * survives; when every score is 0 the cumulative shares are NaN and the threshold is the smallest score, as in torch.
   *
   * @param scores the scores (not modified), at least one
   * @param share the fraction of the total to keep; not validated (values above 1 clamp to the smallest score)
   * @return one of the scores: the threshold
   */
  public static double findThreshold(double[] scores, double share) {
    if (scores.length == 0) {
      throw new IllegalArgumentException("findThreshold needs at least one score");
    }
    double[] sorted = sortedDescending(scores, scores.length);
    return thresholdOfSorted(sorted, sorted.length, false, share);
  }

  /**
   * circuit-tracer's {@code prune_graph}: the sub-circuit that carries most of the influence on the target.
   *
   * <p>Biologist: the circuit to draw. Gene tokens and the target are always shown; a feature or error node stays when
   * it is among the most influential nodes (those carrying {@code nodeThreshold} of the total influence) and, after the
   * weakest connections are dropped (keeping {@code edgeThreshold} of the edge influence), it still passes something
   * on; a feature must also still receive something.
   *
   * <p>ML engineer: node mask {@code influence >= findThreshold(influence, nodeThreshold)} (tokens and the target
   * forced on); rows and columns of dropped nodes zeroed; edge score {@code N'[t, s] * (influence'[t] + w[t])} on the
   * re-normalised pruned matrix {@code N'}; edge mask {@code score >= findThreshold(all n^2 scores, edgeThreshold)};
   * then, until nothing changes, feature and error nodes without a kept outgoing edge and features without a kept
   * incoming edge are dropped and their edges cleared. When no edge scores above 0 the edge cut is 0 and, as in
   * circuit-tracer, every entry between kept nodes counts as kept, zero-weight ones included; unlike circuit-tracer,
   * whose mask then also keeps the entries of dropped nodes (the cleanup loop never runs), no kept edge here has a
   * dropped end. Cumulative influence ranks tied nodes by index (torch's sort leaves their order open).
   *
   * @param nodeThreshold share of the total node influence to keep, in [0, 1] ({@code circuits.node-threshold})
   * @param edgeThreshold share of the total edge score to keep, in [0, 1] ({@code circuits.edge-threshold})
   * @return kept nodes and edges, the unpruned node influence and its cumulative share per node
   */
  public static PruneResult prune(AttributionGraph g, double nodeThreshold, double edgeThreshold) {
    checkShare("cellcircuits.circuits.node-threshold", nodeThreshold);
    checkShare("cellcircuits.circuits.edge-threshold", edgeThreshold);
    int n = g.size();
    int target = g.targetIndex();
    int tokenStart = g.tokenStart();

    double[] influence = influence(g);
    double nodeCut = findThreshold(influence, nodeThreshold);
    boolean[] keep = new boolean[n];
    for (int i = 0; i < n; i++) {
      keep[i] = influence[i] >= nodeCut || i >= tokenStart;
    }

    // Edge scores are recomputed on the pruned graph: once dropped nodes are gone, each kept row's input is shared
    // among the kept sources only, and the target's own weight counts, so its direct inputs score too.
    double[] sums = rowSums(g, keep);
    double[] pruned = propagate(g, keep, sums);
    pruned[target] += 1;

    double[] nonZero = new double[16];
    int m = 0;
    for (int t = 0; t < n; t++) {
      float[] row = g.row(t);
      if (row == null || !keep[t]) {
        continue;
      }
      for (int s = 0; s < n; s++) {
        double score = edgeScore(row, t, s, keep, sums, pruned);
        if (score != 0) {
          if (m == nonZero.length) {
            nonZero = Arrays.copyOf(nonZero, 2 * m);
          }
          nonZero[m++] = score;
        }
      }
    }
    // circuit-tracer thresholds all n^2 entries; the zeros all sort last, so only whether any exist matters.
    boolean zerosFollow = m < (long) n * n;
    double edgeCut = thresholdOfSorted(sortedDescending(nonZero, m), m, zerosFollow, edgeThreshold);

    boolean[][] kept = new boolean[n][];
    for (int t = 0; t < n; t++) {
      float[] row = g.row(t);
      if (row == null) {
        continue;
      }
      kept[t] = new boolean[n];
      for (int s = 0; s < n; s++) {
        kept[t][s] = edgeScore(row, t, s, keep, sums, pruned) >= edgeCut;
      }
    }

    // The first pass reads the edge mask before it is cleared of dropped nodes, as circuit-tracer does; each later
    // pass can strand a node whose only kept edge led to a node the previous pass dropped.
    boolean[] before = keep.clone();
    dropStranded(g, keep, kept);
    while (!Arrays.equals(keep, before)) {
      System.arraycopy(keep, 0, before, 0, n);
      clearEdgesOfDropped(keep, kept);
      dropStranded(g, keep, kept);
    }
    clearEdgesOfDropped(keep, kept);

    return new PruneResult(keep, kept, influence, cumulative(influence));
  }

  /**
   * The paper's circuit extraction (arXiv 2509.14723): from the target, follow each reached node's {@code k} strongest
   * direct inputs, and theirs, until the gene tokens.
   *
   * <p>Biologist: starting from the cell-type prediction, for each node ask "which k inputs push on it hardest,
   * whatever their sign?", add them, and repeat for the features among them; error nodes and gene tokens end a path.
   * All gene tokens and the target are shown, as in {@link #prune}.
   *
   * <p>ML engineer: breadth-first from the target; per reached row, the {@code k} sources of largest {@code |edge|}
   * (zero edges never chosen, ties to the lower node index), each such edge kept and its source reached; features are
   * expanded, error and token nodes have no rows. Influence and cumulative influence as in {@link #prune}.
   *
   * @param k inputs followed per node, >= 1 ({@code circuits.greedy-k})
   * @return reached nodes (plus all tokens and the target), the chosen edges, the unpruned node influence and its
   *     cumulative share
   */
  public static PruneResult greedy(AttributionGraph g, int k) {
    ConfigChecks.atLeast("cellcircuits.circuits.greedy-k", k, 1);
    int n = g.size();
    boolean[] keep = new boolean[n];
    boolean[][] kept = new boolean[n][];
    for (int t = 0; t < n; t++) {
      if (g.hasRow(t)) {
        kept[t] = new boolean[n];
      }
    }
    int[] queue = new int[n];
    int head = 0;
    int tail = 0;
    keep[g.targetIndex()] = true;
    queue[tail++] = g.targetIndex();
    int[] best = new int[k];
    double[] bestAbs = new double[k];
    while (head < tail) {
      int t = queue[head++];
      float[] row = g.row(t);
      int count = topK(row, best, bestAbs);
      for (int j = 0; j < count; j++) {
        int s = best[j];
        kept[t][s] = true;
        if (!keep[s]) {
          keep[s] = true;
          if (g.hasRow(s)) {
            queue[tail++] = s;
          }
        }
      }
    }
    for (int i = g.tokenStart(); i < n; i++) {
      keep[i] = true;
    }
    double[] influence = influence(g);
    return new PruneResult(keep, kept, influence, cumulative(influence));
  }

  /**
   * circuit-tracer's {@code compute_graph_scores}, plus the target's direct error share.
   *
   * <p>Biologist: how much of the prediction the graph explains with interpretable parts. {@code replacement}: of the
   * influence that reaches the inputs, the share ending at gene tokens rather than at error nodes (the transcoders'
   * blind spots). {@code completeness}: node by node, the share of each node's input coming from non-error nodes,
   * averaged with the nodes' influence (plus the target itself) as weights. {@code errorShare}: the part of the
   * target's value that error nodes deliver to it directly, signed.
   *
   * <p>ML engineer: {@code replacement = sum(inf[tokens]) / (sum(inf[tokens]) + sum(inf[errors]))};
   * {@code completeness = sum_t (1 - sum_e N[t, e]) (inf[t] + w[t]) / sum_t (inf[t] + w[t])}, where rows not stored
   * count as error-free (their normalised row is zero); {@code errorShare = sum_e A[target, e] / targetValue}, NaN when
   * the target value is 0.
   */
  public static GraphScores scores(AttributionGraph g) {
    int n = g.size();
    int target = g.targetIndex();
    int errorStart = g.errorStart();
    int tokenStart = g.tokenStart();
    double[] sums = rowSums(g, null);
    double[] influence = propagate(g, null, sums);

    double tokens = 0;
    for (int i = tokenStart; i < target; i++) {
      tokens += influence[i];
    }
    double errors = 0;
    for (int i = errorStart; i < tokenStart; i++) {
      errors += influence[i];
    }
    double replacement = tokens / (tokens + errors);

    double weighted = 0;
    double weights = 0;
    for (int t = 0; t < n; t++) {
      float[] row = g.row(t);
      double errorFraction = 0;
      if (row != null) {
        for (int e = errorStart; e < tokenStart; e++) {
          errorFraction += Math.abs((double) row[e]) / sums[t];
        }
      }
      double output = influence[t] + (t == target ? 1 : 0);
      weighted += (1 - errorFraction) * output;
      weights += output;
    }
    double completeness = weighted / weights;

    double direct = 0;
    for (int e = errorStart; e < tokenStart; e++) {
      direct += g.edge(target, e);
    }
    double value = g.targetValue();
    double errorShare = value == 0 ? Double.NaN : direct / value;
    return new GraphScores(replacement, completeness, errorShare);
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** {@code <key> is invalid: <value>; need 0 to 1 (a share of the total influence)}. */
  static void checkShare(String key, double value) {
    ConfigChecks.require(value >= 0 && value <= 1, key, value, "0 to 1 (a share of the total influence)");
  }

  /** Per row, its absolute sum over kept sources (all when {@code keep} is null), clamped; 0 for rows not used. */
  private static double[] rowSums(AttributionGraph g, boolean[] keep) {
    int n = g.size();
    double[] sums = new double[n];
    for (int t = 0; t < n; t++) {
      float[] row = g.row(t);
      if (row == null || (keep != null && !keep[t])) {
        continue;
      }
      double sum = 0;
      for (int s = 0; s < n; s++) {
        if (keep == null || keep[s]) {
          sum += Math.abs((double) row[s]);
        }
      }
      sums[t] = Math.max(sum, MIN_ROW_SUM);
    }
    return sums;
  }

  /** {@code w N + w N^2 + ...} over the graph restricted to {@code keep} (null: all nodes). */
  private static double[] propagate(AttributionGraph g, boolean[] keep, double[] sums) {
    int n = g.size();
    double[] current = new double[n];
    current[g.targetIndex()] = 1;
    current = step(g, keep, sums, current);
    double[] total = current.clone();
    int steps = 0;
    while (anyNonZero(current)) {
      // An acyclic graph of n nodes has no path longer than n - 1 edges, so the terms vanish well before this.
      if (steps >= n + 1) {
        throw new IllegalStateException(String.format(
            "influence on target %s did not vanish after %d steps over %d nodes: the attribution graph has a cycle "
                + "(a feature reads itself or a feature of the same or a later layer)", g.targetLabel(), steps, n));
      }
      current = step(g, keep, sums, current);
      for (int i = 0; i < n; i++) {
        total[i] += current[i];
      }
      steps++;
    }
    return total;
  }

  /** {@code v N}: each node's weight pushed back to its sources in proportion to their normalised edges. */
  private static double[] step(AttributionGraph g, boolean[] keep, double[] sums, double[] v) {
    int n = g.size();
    double[] next = new double[n];
    for (int t = 0; t < n; t++) {
      float[] row = g.row(t);
      if (v[t] == 0 || row == null || (keep != null && !keep[t])) {
        continue;
      }
      for (int s = 0; s < n; s++) {
        if (keep == null || keep[s]) {
          next[s] += v[t] * (Math.abs((double) row[s]) / sums[t]);
        }
      }
    }
    return next;
  }

  private static boolean anyNonZero(double[] v) {
    for (double x : v) {
      if (x != 0) {
        return true;
      }
    }
    return false;
  }

  private static double edgeScore(float[] row, int t, int s, boolean[] keep, double[] sums, double[] pruned) {
    if (!keep[t] || !keep[s]) {
      return 0;
    }
    return (Math.abs((double) row[s]) / sums[t]) * pruned[t];
  }

  private static double[] sortedDescending(double[] values, int count) {
    double[] sorted = Arrays.copyOf(values, count);
    Arrays.sort(sorted);
    for (int i = 0, j = count - 1; i < j; i++, j--) {
      double x = sorted[i];
      sorted[i] = sorted[j];
      sorted[j] = x;
    }
    return sorted;
  }

  /**
   * find_threshold over {@code sorted[0..m)}, optionally followed by zeros that are not materialised: they add nothing
   * to the cumulative sum, so they matter only when the search runs past the last non-zero score.
   */
  private static double thresholdOfSorted(double[] sorted, int m, boolean zerosFollow, double share) {
    double[] cumulative = new double[m];
    double acc = 0;
    for (int i = 0; i < m; i++) {
      acc += sorted[i];
      cumulative[i] = acc;
    }
    double total = acc;
    // torch's searchsorted(left): advance while !(cum >= share), so NaN shares (total 0) run to the end.
    int lo = 0;
    int hi = m;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (!(cumulative[mid] / total >= share)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < m) {
      return sorted[lo];
    }
    return zerosFollow || m == 0 ? 0.0 : sorted[m - 1];
  }

  private static void dropStranded(AttributionGraph g, boolean[] keep, boolean[][] kept) {
    int n = g.size();
    int tokenStart = g.tokenStart();
    boolean[] hasOutgoing = new boolean[n];
    for (boolean[] row : kept) {
      if (row != null) {
        for (int s = 0; s < n; s++) {
          hasOutgoing[s] |= row[s];
        }
      }
    }
    for (int i = 0; i < tokenStart; i++) {
      keep[i] &= hasOutgoing[i];
    }
    for (int i = 0; i < g.featureCount(); i++) {
      keep[i] &= any(kept[i]);
    }
  }

  private static void clearEdgesOfDropped(boolean[] keep, boolean[][] kept) {
    for (int t = 0; t < kept.length; t++) {
      boolean[] row = kept[t];
      if (row == null) {
        continue;
      }
      for (int s = 0; s < row.length; s++) {
        row[s] &= keep[t] && keep[s];
      }
    }
  }

  private static boolean any(boolean[] row) {
    for (boolean b : row) {
      if (b) {
        return true;
      }
    }
    return false;
  }

  /**
   * The indices of the up to {@code best.length} entries of largest absolute value in {@code row}, largest first,
   * zeros (and NaN) skipped, ties to the lower index.
   *
   * @return how many were found
   */
  private static int topK(float[] row, int[] best, double[] bestAbs) {
    int k = best.length;
    int count = 0;
    for (int s = 0; s < row.length; s++) {
      double a = Math.abs((double) row[s]);
      if (!(a > 0)) {
        continue;
      }
      // Strictly greater: an equal entry met later (higher index) never displaces an earlier one.
      if (count == k && !(a > bestAbs[k - 1])) {
        continue;
      }
      int j = count < k ? count++ : k - 1;
      while (j > 0 && a > bestAbs[j - 1]) {
        best[j] = best[j - 1];
        bestAbs[j] = bestAbs[j - 1];
        j--;
      }
      best[j] = s;
      bestAbs[j] = a;
    }
    return count;
  }

  /** circuit-tracer's cumulative_scores: per node, the share carried by it and every node ranked above it. */
  private static double[] cumulative(double[] influence) {
    int n = influence.length;
    // Stable on ties (lower index first); torch.sort gives no order among equal scores.
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Double.compare(influence[b], influence[a]));
    double[] running = new double[n];
    double acc = 0;
    for (int r = 0; r < n; r++) {
      acc += influence[order[r]];
      running[r] = acc;
    }
    double[] result = new double[n];
    for (int r = 0; r < n; r++) {
      result[order[r]] = running[r] / acc;
    }
    return result;
  }
}
