package org.cellcircuits.report;

import java.util.List;
import java.util.Objects;

/**
 * One cell type's circuit: its traced cells' circuits merged into one layered graph, input genes → features by layer
 * → the target logit. Made by {@link TypeCircuitBuilder}; means are over all the type's traced cells (a cell whose
 * circuit lacks a node or edge counts as 0).
 *
 * @param cellType the type
 * @param cells traced cells of the type
 * @param nodes the kept nodes: genes, then features by layer and index, then the logit
 * @param edges edges among kept nodes, strongest |mean weight| first
 */
public record TypeCircuit(String cellType, int cells, List<Node> nodes, List<Edge> edges) {
  public TypeCircuit {
    Objects.requireNonNull(cellType, "cell type");
    nodes = List.copyOf(nodes);
    edges = List.copyOf(edges);
  }

  /** What a merged node stands for. */
  public enum Kind {
    /** Every token of one gene symbol (all its BPE pieces) in every cell. */
    GENE,
    /** One (layer, feature), summed over prompt positions. */
    FEATURE,
    /** The target: the logit the circuits explain. */
    LOGIT
  }

  /**
   * A merged node.
   *
   * @param key its id in this graph: {@code G:<gene>}, {@code F:<layer>:<feature>} or {@code LOGIT}
   * @param gene the gene of a GENE node, else null
   * @param feature layer and index of a FEATURE node, else null
   * @param meanInfluence influence summed over the node's tokens or positions in a cell, averaged over the type's cells
   * @param meanAttribution attribution, summed and averaged the same way
   * @param cellsWith cells whose circuit keeps the node
   */
  public record Node(String key, Kind kind, String gene, FeatureKey feature, double meanInfluence,
      double meanAttribution, int cellsWith) {
    /** Name shown on the graph: the gene, {@code L<layer> #<feature>}, or "logit". */
    public String display() {
      return switch (kind) {
        case GENE -> gene;
        case FEATURE -> feature.toString();
        case LOGIT -> "logit";
      };
    }
  }

  /**
   * A merged edge.
   *
   * @param meanWeight the cell's edges between the two nodes' tokens or positions summed per cell, averaged over the
   *     type's cells
   */
  public record Edge(String source, String target, double meanWeight) {}

  /** The node with this key. */
  public Node node(String key) {
    for (Node n : nodes) {
      if (n.key().equals(key)) {
        return n;
      }
    }
    throw new IllegalArgumentException(String.format("cell type %s's circuit has no node %s", cellType, key));
  }
}
