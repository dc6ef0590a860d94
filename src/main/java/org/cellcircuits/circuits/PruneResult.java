package org.cellcircuits.circuits;

/**
 * Which nodes and edges of an {@link AttributionGraph} a pruning keeps.
 *
 * @param keptNodes per node index
 * @param keptEdges per target row: per source, whether the edge is kept; null for rows the graph does not store
 * @param influence per node: its influence on the target in the unpruned graph (circuit-tracer's node influence: the
 *     target's weight pushed back through the row-normalised absolute adjacency, summed over path lengths >= 1)
 * @param cumulativeInfluence per node: the share of the total influence carried by this node and every node of higher
 *     influence (circuit-tracer's {@code cumulative_scores}), in [0, 1]
 */
public record PruneResult(boolean[] keptNodes, boolean[][] keptEdges, double[] influence, double[] cumulativeInfluence) {

  public int keptNodeCount() {
    int n = 0;
    for (boolean b : keptNodes) {
      if (b) {
        n++;
      }
    }
    return n;
  }

  public long keptEdgeCount() {
    long n = 0;
    for (boolean[] row : keptEdges) {
      if (row != null) {
        for (boolean b : row) {
          if (b) {
            n++;
          }
        }
      }
    }
    return n;
  }
}
