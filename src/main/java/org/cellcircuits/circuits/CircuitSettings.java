package org.cellcircuits.circuits;

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
    if (!(nodeThreshold >= 0 && nodeThreshold <= 1)) {
      throw new IllegalArgumentException("circuits.node-threshold is " + nodeThreshold + "; must be in [0, 1]");
    }
    if (!(edgeThreshold >= 0 && edgeThreshold <= 1)) {
      throw new IllegalArgumentException("circuits.edge-threshold is " + edgeThreshold + "; must be in [0, 1]");
    }
    if (greedyK < 1) {
      throw new IllegalArgumentException("circuits.greedy-k is " + greedyK + "; must be >= 1");
    }
    if (ablationFeatures < 0) {
      throw new IllegalArgumentException("circuits.ablation-features is " + ablationFeatures + "; must be >= 0");
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("circuits.max-tokens is " + maxTokens + "; must be >= 1");
    }
  }
}
