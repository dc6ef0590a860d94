package org.cellcircuits.circuits;

import java.util.Arrays;
import java.util.List;

/**
 * The attribution graph of one cell's target: which nodes feed which, by how much, in the local replacement model
 * (every MLP replaced by its transcoder plus an error node, attention patterns and LayerNorm scales frozen at their
 * values on the cell), where everything is linear in the node activations.
 *
 * <p><b>Node order</b> (indices 0..size-1), circuit-tracer's: the selected features sorted by (layer, pos, feature),
 * then the error nodes layer-major ({@code layer * positions + pos}), then one token node per position, then the single
 * target last. This is {@link NodeId}'s natural order, so {@link #indexOf} is a binary search.
 *
 * <p><b>Edge direction</b>: {@code edge(t, s)} is the direct effect of source {@code s} on target {@code t}: row = target,
 * column = source, as circuit-tracer's {@code adjacency_matrix}. For a feature target it is the share of the feature's
 * pre-activation that arrives from {@code s} along paths through the residual stream and frozen attention only (paths
 * through another feature go through that feature's node); for the target, the share of its value. Only feature rows
 * and the target row can be non-zero: error and token nodes have no inputs in the graph, so their rows are not stored
 * ({@link #row} returns null), which keeps the memory at (rows computed) x (nodes) rather than nodes squared.
 *
 * <p>Every stored row {@code t} satisfies {@code sum_s edge(t, s) + constant(t) == total(t)} (up to float rounding) when
 * all active features are nodes; with a node budget, the edges from features that were not selected are dropped, so
 * the sum falls short by exactly what they carried.
 */
public final class AttributionGraph {
  private final NodeId[] nodes;
  private final double[] activations;
  private final float[][] rows;
  private final double[] constants;
  private final double[] totals;
  private final int layers;
  private final int positions;
  private final int features;
  private final String targetLabel;

  /**
   * @param nodes every node in graph order (see the class doc); the last is the target
   * @param activations per node: a feature's activation, the L2 norm of an error node's vector or of a token's
   *     embedding, the target's value
   * @param rows per node: its incoming edges (length = nodes) for features and the target, null for error and token
   *     nodes
   * @param constants per node: the bias terms (encoder bias, LayerNorm betas, attention and decoder biases) that reach
   *     it, 0 for nodes without a row
   * @param totals per node: a feature's pre-activation, the target's value; NaN for nodes without a row
   * @param layers the model's blocks
   * @param positions the prompt's tokens
   * @param targetLabel what the target is, for people ("logit ' endothelial'")
   */
  public AttributionGraph(List<NodeId> nodes, double[] activations, float[][] rows, double[] constants,
      double[] totals, int layers, int positions, String targetLabel) {
    int n = nodes.size();
    this.nodes = nodes.toArray(new NodeId[0]);
    if (activations.length != n || rows.length != n || constants.length != n || totals.length != n) {
      throw new IllegalArgumentException(String.format(
          "graph arrays disagree: %d nodes, %d activations, %d rows, %d constants, %d totals", n, activations.length,
          rows.length, constants.length, totals.length));
    }
    if (n == 0 || this.nodes[n - 1].kind() != NodeKind.TARGET) {
      throw new IllegalArgumentException("the last node of an attribution graph must be the target");
    }
    int f = 0;
    for (int i = 0; i < n; i++) {
      NodeId id = this.nodes[i];
      if (i > 0 && this.nodes[i - 1].compareTo(id) >= 0) {
        throw new IllegalArgumentException(String.format(
            "node %d (%s) is not after node %d (%s): nodes must be in graph order, each once", i, id, i - 1,
            this.nodes[i - 1]));
      }
      boolean hasRow = id.kind() == NodeKind.FEATURE || id.kind() == NodeKind.TARGET;
      if (hasRow && (rows[i] == null || rows[i].length != n)) {
        throw new IllegalArgumentException(String.format("node %s needs a row of %d edges; got %s", id, n,
            rows[i] == null ? "none" : rows[i].length + ""));
      }
      if (!hasRow && rows[i] != null) {
        throw new IllegalArgumentException(String.format("node %s has no inputs in the graph; its row must be null", id));
      }
      if (id.kind() == NodeKind.FEATURE) {
        f++;
      }
      if ((id.layer() >= layers) || (id.pos() >= positions)) {
        throw new IllegalArgumentException(String.format("node %s lies outside %d layers x %d positions", id, layers,
            positions));
      }
    }
    int expected = f + layers * positions + positions + 1;
    if (n != expected) {
      throw new IllegalArgumentException(String.format(
          "graph has %d nodes; %d features + %d error nodes (%d layers x %d positions) + %d tokens + 1 target = %d",
          n, f, layers * positions, layers, positions, positions, expected));
    }
    this.activations = activations.clone();
    this.rows = rows.clone();
    this.constants = constants.clone();
    this.totals = totals.clone();
    this.layers = layers;
    this.positions = positions;
    this.features = f;
    this.targetLabel = targetLabel;
  }

  public int size() {
    return nodes.length;
  }

  public int layers() {
    return layers;
  }

  public int positions() {
    return positions;
  }

  public int featureCount() {
    return features;
  }

  /** Index of the first error node (= the number of features). */
  public int errorStart() {
    return features;
  }

  /** Index of the first token node. */
  public int tokenStart() {
    return features + layers * positions;
  }

  public int targetIndex() {
    return nodes.length - 1;
  }

  public int errorIndex(int layer, int pos) {
    return features + layer * positions + pos;
  }

  public int tokenIndex(int pos) {
    return tokenStart() + pos;
  }

  public NodeId node(int i) {
    return nodes[i];
  }

  public NodeKind kind(int i) {
    return nodes[i].kind();
  }

  /** The node's index, or -1 when the graph does not hold it (a feature outside the node budget). */
  public int indexOf(NodeId id) {
    int i = Arrays.binarySearch(nodes, id);
    return i >= 0 ? i : -1;
  }

  public double activation(int i) {
    return activations[i];
  }

  public double constant(int i) {
    return constants[i];
  }

  public double total(int i) {
    return totals[i];
  }

  /** The incoming edges of node {@code target}, indexed by source (shared, do not modify), or null. */
  public float[] row(int target) {
    return rows[target];
  }

  public boolean hasRow(int target) {
    return rows[target] != null;
  }

  /** Direct effect of {@code source} on {@code target}. */
  public double edge(int target, int source) {
    float[] r = rows[target];
    return r == null ? 0 : r[source];
  }

  /** The target's value: its logit, or logit difference. */
  public double targetValue() {
    return totals[targetIndex()];
  }

  public String targetLabel() {
    return targetLabel;
  }
}
