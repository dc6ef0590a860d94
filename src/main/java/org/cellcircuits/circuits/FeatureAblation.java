package org.cellcircuits.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.Collection;
import java.util.List;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.Precision;
import org.cellcircuits.model.TokenBatch;

/**
 * Causal check of a circuit in the real replaced model: every MLP replaced by its transcoder (attention and
 * LayerNorms live, not frozen; the transcoder's own activation function, so a TopK layer may pick another active set;
 * its skip path, if any, live too), chosen features zeroed, and the target read again. Each layer's error vectors are
 * added back unchanged, so with nothing zeroed the model is the original one and any change comes from the features:
 * downstream features respond through their own encoders, which the graph's linear picture does not assume.
 */
public final class FeatureAblation {
  private FeatureAblation() {}

  /**
   * The last position's logits with nothing zeroed, the baseline an ablation's drop is measured from. With nothing
   * zeroed the replaced model plus its error terms is the original model, whose logits the cell's frozen forward
   * already read: in fp32 the baseline costs no extra forward pass (the two agree to ~1e-6). In bf16/fp16 the two paths
   * may round apart by as much as a random feature's effect, so there the baseline runs the same replaced path as the
   * ablated arms. (One pass over a batch of the arms measured slower on CPU than one pass each.)
   */
  public static float[] baselineLogits(GptNeoX model, ReplacementWeights w, LocalReplacementModel cell,
      NDManager parent) {
    return model.precision() == Precision.FP32 ? cell.lastLogits()
        : lastLogitsWithZeroed(model, w, cell, List.of(), parent);
  }

  /** The target's value with {@code zeroed} features set to 0 on the cell (an empty set gives the original value). */
  public static double targetWithZeroed(GptNeoX model, ReplacementWeights w, LocalReplacementModel cell,
      OutputTarget target, Collection<NodeId> zeroed, NDManager parent) {
    return target.value(lastLogitsWithZeroed(model, w, cell, zeroed, parent));
  }

  /**
   * The last position's logits over the vocabulary with {@code zeroed} features set to 0 on the cell, for checks that
   * need more than the target's value (its log-probability, whether the prediction changes).
   */
  public static float[] lastLogitsWithZeroed(GptNeoX model, ReplacementWeights w, LocalReplacementModel cell,
      Collection<NodeId> zeroed, NDManager parent) {
    int layers = w.config.numLayers();
    int t = cell.positions();
    try (NDManager m = parent.newSubManager()) {
      ForwardOptions o = ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST);
      for (int l = 0; l < layers; l++) {
        if (!w.hasTranscoder(l)) {
          continue;
        }
        int s = w.features(l);
        // a mask of ones made natively with a zero per zeroed feature (copying a Java array of T x S floats into a
        // new array cost ~4 ms a layer, most of this check's time on the demo); none for a layer with nothing zeroed
        NDArray mask = null;
        for (NodeId f : zeroed) {
          if (f.kind() != NodeKind.FEATURE) {
            throw new IllegalArgumentException("only features can be zeroed; got " + f);
          }
          if (f.layer() == l) {
            if (mask == null) {
              mask = m.ones(new Shape((long) t * s));
            }
            mask.set(new NDIndex((long) f.pos() * s + f.feature()), 0f);
          }
        }
        NDArray keep = mask == null ? null : mask.reshape(1, t, s);
        NDArray err = cell.errorVectors(l);
        int layer = l;
        o = o.replacingMlp(l, x -> {
          NDArray z = w.activate(layer, x.matMul(w.encoder[layer]).add(w.encoderBias[layer])); // (1, T, S)
          if (keep != null) {
            z = z.mul(keep);
          }
          return w.reconstruct(layer, z, x).add(err);
        });
      }
      try (ActivationCache c = model.run(m, TokenBatch.rightPadded(List.of(cell.ids()), 0), o)) {
        return c.logits().toFloatArray();
      }
    }
  }
}
