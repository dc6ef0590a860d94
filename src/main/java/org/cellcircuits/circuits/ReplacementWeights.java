package org.cellcircuits.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderKind;

/**
 * The weights the local replacement model needs, cut out of a GPT-NeoX model and its transcoders once and shared by
 * every cell: per block the value and output projections of attention (the query/key side is frozen into each cell's
 * patterns, so it is never needed), the LayerNorm gains and biases, and the transcoder's encoder and decoder; the
 * embedding and the unembedding. Everything fp32 on the model's device, in its own manager; close it when done.
 *
 * <p>Layouts, with C = d_model, H heads of size hs, V vocabulary, S transcoder features:
 * <pre>
 *   valueWeight[L]   (C, C)   v = x W^T + b, heads side by side in the output (GPT-NeoX's fused QKV, value rows)
 *   valueByHead[L]   (H, hs, C) the same, one (hs, C) block per head
 *   denseWeight[L]   (C, C)   attn_out = z W^T + b
 *   headConstant[L]  (H, C)   what head h adds to attn_out per unit of attention row mass when its input is only the
 *                             LayerNorm bias: W_dense[:, h] (W_V,h beta_1 + b_V,h)
 *   encoder[L]       (C, S)   W_enc: feature f's encoder direction is column f
 *   decoder[L]       (S, C)   W_dec
 * </pre>
 * A loaded transcoder's encoder and decoder (folded, fp32, on the model's device) are used in place, not copied: at
 * Pythia-410m's size they are ~270 MB a layer at 32x. Their transcoder must stay open while these weights are used
 * (the executor's transcoders do); any other is copied.
 * <pre>
 * </pre>
 * A block without a transcoder has none ({@link #hasTranscoder}): its whole MLP output becomes error nodes.
 */
public final class ReplacementWeights implements AutoCloseable {
  final NeoXConfig config;
  final NDManager manager;
  final NDArray embed; // (V, C)
  final NDArray unembed; // (V, C)
  final NDArray lnFinalGamma; // (C)
  final NDArray lnFinalBeta; // (C)
  final NDArray[] ln1Gamma;
  final NDArray[] ln2Gamma;
  final NDArray[] ln2Beta;
  final NDArray[] valueWeight;
  final NDArray[] denseWeight;
  final NDArray[] valueByHead; // (H, hs, C): valueWeight's rows per head
  final NDArray[] denseBias; // (C), zeros when the model has no attention bias
  final NDArray[] headConstant;
  final NDArray[] encoder;
  final NDArray[] encoderBias;
  final NDArray[] decoder;
  final NDArray[] decoderBias;
  final int[] features;

  /**
   * @param model the model, any precision (its weights are copied to fp32)
   * @param transcoders block -> transcoder standing in for its MLP; blocks not in the map keep their MLP as error
   *     nodes only
   */
  public ReplacementWeights(GptNeoX model, Map<Integer, Transcoder> transcoders) {
    this.config = model.config();
    int layers = config.numLayers();
    int c = config.hiddenSize();
    int h = config.numHeads();
    int hs = config.headSize();
    SortedMap<Integer, Transcoder> tcs = new TreeMap<>(transcoders);
    for (Map.Entry<Integer, Transcoder> e : tcs.entrySet()) {
      check(e.getKey(), e.getValue(), layers, c);
    }
    manager = model.manager().newSubManager();
    try {
      Map<String, NDArray> p = model.parameters();
      embed = copy(p.get("gpt_neox.embed_in.weight"));
      unembed = config.tiedEmbeddings() ? embed : copy(p.get("embed_out.weight"));
      lnFinalGamma = copy(p.get("gpt_neox.final_layer_norm.weight"));
      lnFinalBeta = copy(p.get("gpt_neox.final_layer_norm.bias"));
      ln1Gamma = new NDArray[layers];
      ln2Gamma = new NDArray[layers];
      ln2Beta = new NDArray[layers];
      valueWeight = new NDArray[layers];
      denseWeight = new NDArray[layers];
      valueByHead = new NDArray[layers];
      denseBias = new NDArray[layers];
      headConstant = new NDArray[layers];
      encoder = new NDArray[layers];
      encoderBias = new NDArray[layers];
      decoder = new NDArray[layers];
      decoderBias = new NDArray[layers];
      features = new int[layers];
      for (int l = 0; l < layers; l++) {
        String pre = "gpt_neox.layers." + l + ".";
        ln1Gamma[l] = copy(p.get(pre + "input_layernorm.weight"));
        NDArray ln1Beta = copy(p.get(pre + "input_layernorm.bias"));
        ln2Gamma[l] = copy(p.get(pre + "post_attention_layernorm.weight"));
        ln2Beta[l] = copy(p.get(pre + "post_attention_layernorm.bias"));
        float[] qkv = copy(p.get(pre + "attention.query_key_value.weight")).toFloatArray(); // (3C, C)
        NDArray qkvBiasArray = p.get(pre + "attention.query_key_value.bias");
        float[] qkvBias = qkvBiasArray == null ? new float[3 * c] : copy(qkvBiasArray).toFloatArray();
        // Output features of the fused projection are laid out [heads, 3, hs]: head j's value rows start at
        // (3j + 2) hs.
        float[] wv = new float[c * c];
        float[] bv = new float[c];
        for (int j = 0; j < h; j++) {
          for (int r = 0; r < hs; r++) {
            int src = (3 * j + 2) * hs + r;
            System.arraycopy(qkv, src * c, wv, (j * hs + r) * c, c);
            bv[j * hs + r] = qkvBias[src];
          }
        }
        valueWeight[l] = manager.create(wv, new Shape(c, c));
        valueByHead[l] = valueWeight[l].reshape(h, hs, c);
        denseWeight[l] = copy(p.get(pre + "attention.dense.weight"));
        NDArray db = p.get(pre + "attention.dense.bias");
        denseBias[l] = db == null ? manager.zeros(new Shape(c)) : copy(db);
        // per-head value of the bias-only input: W_V beta_1 + b_V, then each head's slice through its dense columns
        NDArray vConst = valueWeight[l].matMul(ln1Beta).add(manager.create(bv)); // (C)
        NDArray perHead = manager.zeros(new Shape(h, c));
        for (int j = 0; j < h; j++) {
          NDArray slice = vConst.get(j * hs + ":" + (j + 1) * hs); // (hs)
          NDArray cols = denseWeight[l].get(":, " + j * hs + ":" + (j + 1) * hs); // (C, hs)
          perHead.set(new ai.djl.ndarray.index.NDIndex(j), cols.matMul(slice));
        }
        headConstant[l] = perHead;
        Transcoder tc = tcs.get(l);
        if (tc != null) {
          Transcoder folded = tc.scaling().folded() ? tc : tc.folded();
          try {
            boolean share = folded == tc && tc.device().equals(manager.getDevice());
            encoder[l] = shareOrCopy(folded.weight("W_enc"), share);
            encoderBias[l] = copy(folded.weight("b_enc"));
            decoder[l] = shareOrCopy(folded.weight("W_dec"), share);
            decoderBias[l] = copy(folded.weight("b_dec"));
            features[l] = tc.config().dSae();
          } finally {
            if (folded != tc) {
              folded.close();
            }
          }
        }
      }
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  private static void check(int layer, Transcoder tc, int layers, int c) {
    if (layer < 0 || layer >= layers) {
      throw new IllegalArgumentException(String.format(
          "transcoder for block %d; the model has blocks 0..%d", layer, layers - 1));
    }
    if (tc.config().kind() != TranscoderKind.TRANSCODER) {
      throw new IllegalArgumentException(String.format(
          "layer %d's dictionary is an SAE (it reconstructs the MLP input); circuits need transcoders", layer));
    }
    if (tc.config().dIn() != c || tc.config().dOut() != c) {
      throw new IllegalArgumentException(String.format(
          "layer %d's transcoder maps %d -> %d; the model's d_model is %d", layer, tc.config().dIn(),
          tc.config().dOut(), c));
    }
  }

  /** {@code a} itself when it may be shared (fp32, its owner outlives these weights), else a copy. */
  private NDArray shareOrCopy(NDArray a, boolean share) {
    return share && a.getDataType() == DataType.FLOAT32 ? a : copy(a);
  }

  private NDArray copy(NDArray a) {
    // A fresh fp32 copy on the model's device, owned by this manager: the model's own arrays are never shared.
    // toType(FLOAT32, true) of an array that is fp32 already returns a new handle on the same memory (DJL's
    // PyTorch engine), which dangles once that array is closed (a folded transcoder's weights are closed right
    // after they are copied here): so an fp32 array is cloned.
    NDArray out = a.getDataType() == DataType.FLOAT32 ? a.duplicate() : a.toType(DataType.FLOAT32, true);
    out.attach(manager);
    return out;
  }

  public NeoXConfig config() {
    return config;
  }

  public boolean hasTranscoder(int layer) {
    return encoder[layer] != null;
  }

  /** Features of the layer's transcoder, 0 for a block without one. */
  public int features(int layer) {
    return features[layer];
  }

  @Override
  public void close() {
    manager.close();
  }
}
