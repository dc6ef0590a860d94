package org.cellcircuits.circuits;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
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
  private final long seed;
  private CircuitProfile profile; // null unless a benchmark asks where the time goes

  /** @param seed seeds the random features of the ablation check (with the cell id) */
  public CircuitExtractor(GptNeoX model, ReplacementWeights weights, CircuitSettings settings, long seed) {
    this.model = model;
    this.weights = weights;
    this.settings = settings;
    this.seed = seed;
  }

  /** Times the parts of every later {@link #extract} into {@code p} (null: stop timing). */
  void profile(CircuitProfile p) {
    profile = p;
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
          "cell %s has a prompt of %d tokens; cellcircuits.circuits.max-tokens is %d (a cell's memory grows with its "
              + "tokens: raise it only where the executor has room, see the README's circuits section)", cellId,
          prompt.length(), settings.maxTokens()));
    }
    CircuitProfile prof = profile;
    try (NDManager m = model.manager().newSubManager();
        LocalReplacementModel cell = LocalReplacementModel.of(model, weights, prompt.ids(), m)) {
      long clock = prof == null ? 0 : prof.add(CircuitProfile.Part.FORWARD, start);
      OutputTarget out = target.resolve(cell.lastLogits());
      Attribution.Result r = Attribution.build(cell, out, settings.attribution(), prof);
      AttributionGraph g = r.graph();
      if (prof != null) {
        clock = System.nanoTime();
      }
      PruneResult pruned = settings.method() == PruneMethod.GREEDY
          ? GraphPruning.greedy(g, settings.greedyK())
          : GraphPruning.prune(g, settings.nodeThreshold(), settings.edgeThreshold());
      GraphScores scores = GraphPruning.scores(g);
      if (prof != null) {
        clock = prof.add(CircuitProfile.Part.PRUNING, clock);
      }
      double[] attribution = TotalEffects.attribution(g);
      if (prof != null) {
        clock = prof.add(CircuitProfile.Part.TOTAL_EFFECTS, clock);
      }
      CellCircuit.Ablation ablation = settings.ablationFeatures() == 0 ? null
          : ablate(cell, out, g, attribution, new java.util.Random(seed ^ cellId.hashCode()), m);
      if (prof != null) {
        prof.add(CircuitProfile.Part.ABLATION, clock);
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      if (prof != null) {
        prof.graphs++;
      }
      return new CellCircuit(cellId, cellType, prompt, out, g, pruned, scores, attribution, r.rowsComputed(),
          r.activeFeatures(), ablation, seconds);
    } catch (RuntimeException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("cell " + cellId)) {
        throw e;
      }
      throw new IllegalStateException(String.format("cell %s: circuit extraction failed: %s", cellId, e.getMessage()),
          e);
    }
  }

  /**
   * Zeroes the graph's most attributed features (largest signed attribution: those pushing towards the target), then
   * as many features drawn at random among all the cell's active ones, in the real replaced model.
   */
  private CellCircuit.Ablation ablate(LocalReplacementModel cell, OutputTarget out, AttributionGraph g,
      double[] attribution, java.util.Random random, NDManager m) {
    int k = Math.min(settings.ablationFeatures(), g.featureCount());
    if (k == 0) {
      return new CellCircuit.Ablation(0, 0, 0);
    }
    Integer[] order = new Integer[g.featureCount()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> Double.compare(attribution[b], attribution[a]));
    List<NodeId> top = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      top.add(g.node(order[i]));
    }
    List<NodeId> drawn = new ArrayList<>();
    for (int c : random.ints(0, cell.featureCount()).distinct().limit(Math.min(k, cell.featureCount())).toArray()) {
      drawn.add(cell.featureNode(c));
    }
    double base = out.value(FeatureAblation.baselineLogits(model, weights, cell, m));
    double topValue = FeatureAblation.targetWithZeroed(model, weights, cell, out, top, m);
    double randomValue = FeatureAblation.targetWithZeroed(model, weights, cell, out, drawn, m);
    return new CellCircuit.Ablation(k, base - topValue, base - randomValue);
  }

  /** Turns a cell's last-position logits into its output target (e.g. the argmax token for "predicted"). */
  @FunctionalInterface
  public interface TargetResolver {
    OutputTarget resolve(float[] lastLogits);
  }
}
