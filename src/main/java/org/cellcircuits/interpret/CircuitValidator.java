package org.cellcircuits.interpret;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.cellcircuits.circuits.FeatureAblation;
import org.cellcircuits.circuits.LocalReplacementModel;
import org.cellcircuits.circuits.NodeId;
import org.cellcircuits.circuits.OutputTarget;
import org.cellcircuits.circuits.ReplacementWeights;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.model.TokenizedPrompt;

/**
 * The causal check of a cell's circuit: each of its top input genes knocked out of the cell sentence and the real model
 * rerun ({@link GeneKnockout}); each of its top features zeroed in the replaced model ({@link FeatureAblation}, every
 * MLP replaced by its transcoder with its error added back, so only the zeroed feature differs from the original
 * model). Each removal's drop in the target is then compared with the unit's attribution: a faithful circuit ranks
 * its units as their removals rank them.
 *
 * <p>Holds no Spark; the interpret stage runs one per executor thread. The gene knockouts of a cell run as one batch
 * with the original prompt (right-padded; the causal mask keeps each row's real tokens from seeing the padding).
 */
public final class CircuitValidator {
  private final GptNeoX model;
  private final ReplacementWeights weights;
  private final Function<CellPrompt, TokenizedPrompt> encoder;

  /**
   * @param weights the replaced model's transcoders, as the circuits stage used them
   * @param encoder tokenizes a prompt and traces its tokens to genes (the executor's tokenizer)
   */
  public CircuitValidator(GptNeoX model, ReplacementWeights weights, Function<CellPrompt, TokenizedPrompt> encoder) {
    this.model = model;
    this.weights = weights;
    this.encoder = encoder;
  }

  /**
   * Removes each unit alone and measures the target.
   *
   * @param genes the cell's top genes (each must be in its sentence), ranked in the order given
   * @param features the cell's top features, ranked in the order given
   * @return one effect per unit, genes first
   */
  public List<KnockoutEffect> validate(CellPrompt cell, OutputTarget target, List<AttributedUnit> genes,
      List<AttributedUnit> features) {
    List<KnockoutEffect> out = new ArrayList<>(genes.size() + features.size());
    TokenizedPrompt prompt = encoder.apply(cell);
    try (NDManager m = model.manager().newSubManager()) {
      if (!genes.isEmpty()) {
        List<long[]> rows = new ArrayList<>(genes.size() + 1);
        rows.add(prompt.ids());
        for (AttributedUnit g : genes) {
          if (g.kind() != AttributedUnit.Kind.GENE) {
            throw new IllegalArgumentException("cell " + cell.cellId() + ": " + g + " is not a gene");
          }
          rows.add(encoder.apply(GeneKnockout.without(cell, g.gene())).ids());
        }
        float[][] logits;
        try (ActivationCache c = model.run(m, TokenBatch.rightPadded(rows, 0),
            ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST))) {
          float[] flat = c.logits().toFloatArray();
          int vocab = flat.length / rows.size();
          logits = new float[rows.size()][];
          for (int r = 0; r < rows.size(); r++) {
            logits[r] = java.util.Arrays.copyOfRange(flat, r * vocab, (r + 1) * vocab);
          }
        }
        for (int i = 0; i < genes.size(); i++) {
          out.add(effect(genes.get(i), i + 1, target, logits[0], logits[i + 1]));
        }
      }
      if (!features.isEmpty()) {
        try (LocalReplacementModel replaced = LocalReplacementModel.of(model, weights, prompt.ids(), m)) {
          float[] base = FeatureAblation.baselineLogits(model, weights, replaced, m);
          for (int i = 0; i < features.size(); i++) {
            AttributedUnit f = features.get(i);
            if (f.kind() != AttributedUnit.Kind.FEATURE) {
              throw new IllegalArgumentException("cell " + cell.cellId() + ": " + f + " is not a feature");
            }
            List<NodeId> nodes = new ArrayList<>();
            for (int pos : f.positions()) {
              if (pos >= prompt.length()) {
                throw new IllegalArgumentException(String.format(
                    "cell %s: feature %d of layer %d is at position %d; its prompt has %d tokens", cell.cellId(),
                    f.feature(), f.layer(), pos, prompt.length()));
              }
              nodes.add(NodeId.feature(f.layer(), pos, f.feature()));
            }
            float[] after = FeatureAblation.lastLogitsWithZeroed(model, weights, replaced, nodes, m);
            out.add(effect(f, i + 1, target, base, after));
          }
        }
      }
    }
    return out;
  }

  private static KnockoutEffect effect(AttributedUnit unit, int rank, OutputTarget target, float[] before,
      float[] after) {
    double baseLogprob = logProbability(before, target.token());
    return new KnockoutEffect(unit, rank, baseLogprob, baseLogprob - logProbability(after, target.token()),
        target.value(before) - target.value(after), OutputTarget.argmax(before) != OutputTarget.argmax(after));
  }

  /** log softmax(logits)[token], in double with the maximum subtracted. */
  static double logProbability(float[] logits, long token) {
    double max = Double.NEGATIVE_INFINITY;
    for (float v : logits) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (float v : logits) {
      sum += Math.exp(v - max);
    }
    return logits[Math.toIntExact(token)] - max - Math.log(sum);
  }
}
