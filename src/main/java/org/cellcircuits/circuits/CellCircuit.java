package org.cellcircuits.circuits;

import java.util.ArrayList;
import java.util.List;
import org.cellcircuits.model.TokenizedPrompt;

/**
 * One cell's circuit: its attribution graph, what pruning keeps, the faithfulness scores, and the nodes and edges of
 * the pruned graph as rows (the {@code circuits/nodes} and {@code circuits/edges} tables).
 *
 * @param cellId the cell
 * @param cellType its annotation (may be null)
 * @param prompt the tokenized prompt, each token traced to its gene
 * @param target what the graph explains
 * @param graph the graph under the node budget
 * @param pruned what the pruning keeps
 * @param scores replacement and completeness scores, error share
 * @param attribution per graph node: its signed attribution to the target ({@link TotalEffects})
 * @param rowsComputed backward rows the attribution computed (targets + 1)
 * @param activeFeatures active transcoder features on the cell, over all layers
 * @param ablation the causal check in the real replaced model, or null when skipped
 * @param seconds wall time of the extraction, forward included
 */
public record CellCircuit(String cellId, String cellType, TokenizedPrompt prompt, OutputTarget target,
    AttributionGraph graph, PruneResult pruned, GraphScores scores, double[] attribution, int rowsComputed,
    int activeFeatures, Ablation ablation, double seconds) {

  /**
   * Zeroing features in the real replaced model ({@link FeatureAblation}).
   *
   * @param features how many were zeroed in each arm
   * @param topDrop how much the target fell when the cell's most attributed features were zeroed
   * @param randomDrop how much it fell when as many random active features were zeroed
   */
  public record Ablation(int features, double topDrop, double randomDrop) {
    /** Whether the circuit's features matter more than random ones. */
    public boolean agrees() {
      return topDrop > randomDrop;
    }
  }

  /**
   * One kept node.
   *
   * @param gene for a token node inside a gene symbol, the gene; else null
   * @param geneRank its position in the cell sentence (0 = highest expression), or -1
   */
  public record Node(String nodeId, String kind, int layer, int pos, int feature, String gene, int geneRank,
      double activation, double influence, double attribution) {}

  /** One kept edge: the direct effect of {@code source} on {@code target}. */
  public record Edge(String source, String target, double weight) {}

  /** The kept nodes, in graph order. */
  public List<Node> nodes() {
    List<Node> out = new ArrayList<>();
    for (int i = 0; i < graph.size(); i++) {
      if (!pruned.keptNodes()[i]) {
        continue;
      }
      NodeId id = graph.node(i);
      String gene = null;
      int rank = -1;
      if (id.kind() == NodeKind.TOKEN) {
        gene = prompt.gene(id.pos());
        rank = prompt.rank(id.pos());
      }
      out.add(new Node(id.key(), id.kind().name().toLowerCase(java.util.Locale.ROOT), id.layer(), id.pos(),
          id.feature(), gene, rank, graph.activation(i), pruned.influence()[i], attribution[i]));
    }
    return out;
  }

  /** The kept edges, by target then source. */
  public List<Edge> edges() {
    List<Edge> out = new ArrayList<>();
    for (int t = 0; t < graph.size(); t++) {
      boolean[] kept = pruned.keptEdges()[t];
      if (kept == null) {
        continue;
      }
      for (int s = 0; s < kept.length; s++) {
        if (kept[s]) {
          out.add(new Edge(graph.node(s).key(), graph.node(t).key(), graph.edge(t, s)));
        }
      }
    }
    return out;
  }
}
