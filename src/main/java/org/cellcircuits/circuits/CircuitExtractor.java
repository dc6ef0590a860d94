package org.cellcircuits.circuits;

import ai.djl.ndarray.NDManager;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.TokenizedPrompt;

/**
 * Extracts cells' circuits with one model and one set of transcoders: the local replacement model of the cell, its
 * attribution graph under the node budget, the pruning, the scores. Holds no Spark; the circuits stage and the ML
 * pipeline stage both call it. One instance per thread (the weights it reads may be shared).
 */
public final class CircuitExtractor {
  private final GptNeoX model;
  private final ReplacementWeights weights;
  private final CircuitSettings settings;

  public CircuitExtractor(GptNeoX model, ReplacementWeights weights, CircuitSettings settings) {
    this.model = model;
    this.weights = weights;
    this.settings = settings;
  }

  /**
   * The circuit of one cell's prompt for {@code target}.
   *
   * @throws IllegalArgumentException naming the cell when its prompt is longer than {@code circuits.max-tokens}
   */
  public CellCircuit extract(String cellId, String cellType, TokenizedPrompt prompt, TargetResolver target) {
    long start = System.nanoTime();
    if (prompt.length() > settings.maxTokens()) {
      throw new IllegalArgumentException(String.format(
          "cell %s has a prompt of %d tokens; circuits.max-tokens is %d (a cell's memory grows with its tokens: raise "
              + "it only where the executor has room, see the README's circuits section)", cellId, prompt.length(),
          settings.maxTokens()));
    }
    try (NDManager m = model.manager().newSubManager();
        LocalReplacementModel cell = LocalReplacementModel.of(model, weights, prompt.ids(), m)) {
      OutputTarget out = target.resolve(cell.lastLogits());
      Attribution.Result r = Attribution.build(cell, out, settings.attribution());
      AttributionGraph g = r.graph();
      PruneResult pruned = settings.method() == PruneMethod.GREEDY
          ? GraphPruning.greedy(g, settings.greedyK())
          : GraphPruning.prune(g, settings.nodeThreshold(), settings.edgeThreshold());
      GraphScores scores = GraphPruning.scores(g);
      double[] attribution = TotalEffects.attribution(g);
      return new CellCircuit(cellId, cellType, prompt, out, g, pruned, scores, attribution, r.rowsComputed(),
          r.activeFeatures(), (System.nanoTime() - start) / 1e9);
    } catch (RuntimeException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("cell " + cellId)) {
        throw e;
      }
      throw new IllegalStateException(String.format("cell %s: circuit extraction failed: %s", cellId, e.getMessage()),
          e);
    }
  }

  /** Turns a cell's last-position logits into its output target (e.g. the argmax token for "predicted"). */
  @FunctionalInterface
  public interface TargetResolver {
    OutputTarget resolve(float[] lastLogits);
  }
}
