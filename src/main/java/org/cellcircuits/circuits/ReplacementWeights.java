package org.cellcircuits.circuits;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
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
 * patterns, so it is never needed), the LayerNorm gains and biases, and the transcoder's encoder, decoder, activation
 * function and skip connection; the embedding and the unembedding. Everything fp32 on the model's device; close it
 * when done.
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
 *   skip[L]          (C, C)   W_skip [d_out, d_in]: the MLP output gains ln2(x) W_skip^T; null without a skip path
 *   skipConstant[L]  (C)      W_skip beta_2: what the skip path adds when its input is only the ln2 bias
 * </pre>
 * {@link #activate} applies the transcoder's own activation function (ReLU, TopK, or JumpReLU, which a BatchTopK
 * transcoder is saved as) to pre-activations, so the active set is the transcoder's. The skip path is linear in the
 * MLP input, so with the LayerNorm scales frozen it is a path of the linear model, like attention's, not a node.
 *
 * <p>A loaded transcoder (folded, fp32, on the model's device) is used in place, not copied: at Pythia-410m's size its
 * encoder and decoder are ~270 MB a layer at 32x. It must stay open while these weights are used (the executor's
 * transcoders do). Any other is folded into a copy on the model's device that these weights own and close.
 *
 * <p>A block without a transcoder has none ({@link #hasTranscoder}): its whole MLP output becomes error nodes.
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
  final NDArray[] skip; // (C, C) [d_out, d_in], null for a block without a skip path
  final NDArray[] skipT; // (C, C) its transpose, for the forward
  final NDArray[] skipConstant; // (C)
  final int[] features;
  private final Transcoder[] transcoder; // folded, on the model's device: its activation decides the active set
  private final List<Transcoder> owned = new ArrayList<>();

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
      skip = new NDArray[layers];
      skipT = new NDArray[layers];
      skipConstant = new NDArray[layers];
      features = new int[layers];
      transcoder = new Transcoder[layers];
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
          Transcoder f = foldedOnDevice(tc);
          transcoder[l] = f;
          encoder[l] = f.weight("W_enc");
          encoderBias[l] = copy(f.weight("b_enc"));
          decoder[l] = f.weight("W_dec");
          decoderBias[l] = copy(f.weight("b_dec"));
          if (f.hasSkip()) {
            skip[l] = f.weight(Transcoder.W_SKIP);
            // results of operations land in the first operand's manager: here the transcoder's, which may be
            // borrowed and outlive these weights
            skipT[l] = skip[l].transpose();
            skipT[l].attach(manager);
            skipConstant[l] = skip[l].matMul(ln2Beta[l]);
            skipConstant[l].attach(manager);
          }
          features[l] = tc.config().dSae();
        }
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * {@code tc} itself when it is folded and on the model's device, else a folded copy there, owned by these weights.
   * Folding leaves pre-activations and so the activation's thresholds unchanged.
   */
  private Transcoder foldedOnDevice(Transcoder tc) {
    Device device = manager.getDevice();
    if (tc.scaling().folded() && tc.device().equals(device)) {
      return tc;
    }
    Transcoder f = tc.scaling().folded() ? tc : tc.folded();
    if (f != tc && f.device().equals(device)) {
      owned.add(f);
      return f;
    }
    try {
      List<String> names = Transcoder.parameterNames(f.config());
      float[][] values = new float[names.size()][];
      for (int i = 0; i < values.length; i++) {
        values[i] = f.weight(names.get(i)).toFloatArray();
      }
      Transcoder moved = Transcoder.of(f.config(), f.scaling(), f.provenance(), device, values);
      owned.add(moved);
      return moved;
    } finally {
      if (f != tc) {
        f.close();
      }
    }
  }

  private static void check(int layer, Transcoder tc, int layers, int c) {
    if (layer < 0 || layer >= layers) {
      throw new IllegalArgumentException(String.format(
          "transcoder for block %d; the model has blocks 0..%d", layer, layers - 1));
    }
    if (tc.config().kind() != TranscoderKind.TRANSCODER) {
      throw new IllegalArgumentException(String.format(
          "layer %d's dictionary is an SAE (it reconstructs the MLP input); circuits need transcoders (an SAE run's "
              + "features are interpreted with interpret.validation.cells-per-type = 0, which reads no circuits)",
          layer));
    }
    if (tc.config().dIn() != c || tc.config().dOut() != c) {
      throw new IllegalArgumentException(String.format(
          "layer %d's transcoder maps %d -> %d; the model's d_model is %d", layer, tc.config().dIn(),
          tc.config().dOut(), c));
    }
  }

  private NDArray copy(NDArray a) {
    // A fresh fp32 copy on the model's device, owned by this manager: the model's own arrays are never shared.
    // toType(FLOAT32, true) of an array that is fp32 already returns a new handle on the same memory (DJL's
    // PyTorch engine), which dangles once that array is closed: so an fp32 array is cloned.
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

  /** Whether the layer's transcoder has a skip path (false for a block without one). */
  public boolean hasSkip(int layer) {
    return skip[layer] != null;
  }

  /** Feature activations of pre-activations {@code pre} (..., S), by the layer's transcoder's activation function. */
  NDArray activate(int layer, NDArray pre) {
    return transcoder[layer].activate(pre);
  }

  /**
   * The layer's MLP-output estimate (..., C) from feature activations {@code z} (..., S) and the MLP input they came
   * from (..., C): decoded features, decoder bias and skip path.
   */
  NDArray reconstruct(int layer, NDArray z, NDArray mlpIn) {
    NDArray y = z.matMul(decoder[layer]).add(decoderBias[layer]);
    return skip[layer] == null ? y : y.add(mlpIn.matMul(skipT[layer]));
  }

  /** Features of the layer's transcoder, 0 for a block without one. */
  public int features(int layer) {
    return features[layer];
  }

  @Override
  public void close() {
    manager.close();
    owned.forEach(Transcoder::close);
  }
}
