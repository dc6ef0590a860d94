package org.cellcircuits.circuits;

import org.cellcircuits.io.ConfigChecks;

/**
 * How one cell's circuit is extracted: the node budget and batching of the attribution, and how the graph is pruned.
 *
 * @param attribution node budget, rows per backward pass, batches between re-rankings
 * @param method influence pruning or greedy path tracing
 * @param nodeThreshold share of the influence on the target the kept nodes carry (influence method), in [0, 1]
 * @param edgeThreshold share of the edge influence the kept edges carry (influence method), in [0, 1]
 * @param greedyK inputs followed per node (greedy method), >= 1
 * @param maxTokens longest prompt accepted, >= 1: the memory of a cell grows with its tokens
 * @param ablationFeatures features zeroed by the causal check (the cell's most attributed ones, and as many random
 *     active ones), >= 0; 0 skips the check
 */
public record CircuitSettings(Attribution.Options attribution, PruneMethod method, double nodeThreshold,
    double edgeThreshold, int greedyK, int maxTokens, int ablationFeatures) implements java.io.Serializable {

  public CircuitSettings {
    if (attribution == null || method == null) {
      throw new IllegalArgumentException("circuit settings need the attribution options and a method");
    }
    GraphPruning.checkShare("cellcircuits.circuits.node-threshold", nodeThreshold);
    GraphPruning.checkShare("cellcircuits.circuits.edge-threshold", edgeThreshold);
    ConfigChecks.atLeast("cellcircuits.circuits.greedy-k", greedyK, 1);
    ConfigChecks.atLeast("cellcircuits.circuits.ablation-features", ablationFeatures, 0);
    ConfigChecks.atLeast("cellcircuits.circuits.max-tokens", maxTokens, 1);
  }
}
