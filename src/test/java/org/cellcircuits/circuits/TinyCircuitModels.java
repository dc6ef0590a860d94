package org.cellcircuits.circuits;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.transcoder.Activation;
import org.cellcircuits.transcoder.ActivationScaling;
import org.cellcircuits.transcoder.TrainingProvenance;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;

/**
 * Tiny random GPT-NeoX models and transcoders for the circuit tests. Unlike {@link GptNeoX#initialize}, every bias and
 * LayerNorm parameter is random too, so a bias term left out of the bookkeeping shows up as a wrong sum.
 */
final class TinyCircuitModels {
  static final int WIDTH = 16;
  static final int LAYERS = 3;
  static final int FEATURES = 24;
  static final int VOCAB = 50;

  /**
   * Summed reduction lengths along the longest chain of one attribution row (a backward pass through the frozen
   * local replacement model over {@code positions} tokens): the seed (an unembedding or encoder row, WIDTH), then per
   * block the frozen LayerNorm's centring (WIDTH), the attention's output projection (WIDTH), pattern (positions)
   * and value projection (WIDTH), a transcoder's decoder and encoder (FEATURES + WIDTH) and the residual adds (3).
   * For {@link org.cellcircuits.model.Fp32Bounds#deep}.
   */
  static long rowChain(int positions) {
    return rowChain(WIDTH, LAYERS, FEATURES, positions);
  }

  /** {@link #rowChain(int)} for a model of {@code width} and {@code layers} with transcoders of {@code features}. */
  static long rowChain(int width, int layers, int features, int positions) {
    return width + (long) layers * (5L * width + positions + features + 3);
  }

  /**
   * The magnitude that stands for |A_L|...|A_1||x| in a row's Fp32Bounds.deep: the row's sum of |edge| plus
   * |constant|. A row is linear in its sources, and its edges and constant add up to the seed's value, so this is
   * the size of what the backward carries before it cancels (a stand-in, not a proof). The row's largest |edge|,
   * without the constant, left a margin under 6x on rows whose bias carries most of the value (measured).
   */
  static double rowScale(float[] edges, double constant) {
    double s = Math.abs(constant);
    for (float e : edges) {
      s += Math.abs(e);
    }
    return s;
  }

  private TinyCircuitModels() {}

  static NeoXConfig config(boolean parallel) {
    return new NeoXConfig(WIDTH, 4, LAYERS, 32, 0.5, 10000, parallel, 1e-5, VOCAB, 32, false, true, -1);
  }

  /** A random model whose every parameter, biases and LayerNorms included, is drawn from a seeded normal. */
  static GptNeoX model(boolean parallel, long seed) {
    GptNeoX model = GptNeoX.initialize(config(parallel), Device.cpu(), seed);
    Random r = new Random(seed + 1);
    for (Map.Entry<String, NDArray> e : new TreeMap<>(model.parameters()).entrySet()) {
      String name = e.getKey();
      NDArray p = e.getValue();
      float[] noise = new float[(int) p.size()];
      double scale;
      if (name.endsWith("layernorm.weight") || name.endsWith("layer_norm.weight")) {
        scale = 0.3;
      } else if (name.endsWith(".bias")) {
        scale = 0.2;
      } else {
        scale = 0.3; // larger than HF's 0.02 so attention is far from uniform and the MLPs matter
      }
      for (int i = 0; i < noise.length; i++) {
        noise[i] = (float) (r.nextGaussian() * scale);
      }
      p.addi(p.getManager().create(noise, p.getShape()));
    }
    return model;
  }

  /**
   * How the tiny transcoders are built: their activation function (TopK keeps {@link #K} features a token; JumpReLU and
   * BatchTopK get random thresholds, a sixth of them negative, which a loaded file may hold), whether they have a skip
   * path (a random, non-zero W_skip), and whether they go through save and load (folded, used in place by the
   * replacement weights) or stay unfolded (copied).
   */
  record Arch(String name, Activation activation, boolean skip, boolean loaded) {
    static final Arch RELU = new Arch("relu", Activation.RELU, false, false);
    static final Arch RELU_SKIP = new Arch("relu + skip", Activation.RELU, true, false);
    static final Arch TOPK = new Arch("topk", Activation.TOPK, false, false);
    static final Arch TOPK_SKIP = new Arch("topk + skip", Activation.TOPK, true, false);
    static final Arch JUMPRELU = new Arch("jumprelu", Activation.JUMPRELU, false, false);
    static final Arch BATCHTOPK_SKIP_LOADED =
        new Arch("batchtopk + skip, saved and loaded", Activation.BATCHTOPK, true, true);
    static final List<Arch> ALL = List.of(RELU, RELU_SKIP, TOPK, TOPK_SKIP, JUMPRELU, BATCHTOPK_SKIP_LOADED);

    @Override
    public String toString() {
      return name;
    }
  }

  /** Features a TopK transcoder keeps per token: fewer than the ~8 of 24 whose pre-activation is positive. */
  static final int K = 4;

  /**
   * A random, unfolded ReLU transcoder (training scale factors 2 and 0.5) for every block, its encoder bias shifted so
   * that about a third of the features fire on a token.
   */
  static Map<Integer, Transcoder> transcoders(long seed) {
    return transcoders(seed, Arch.RELU);
  }

  /**
   * {@link #transcoders(long)}'s weights with another architecture: the same encoders and decoders, plus thresholds
   * and W_skip drawn from their own seeds (so the ReLU weights do not depend on them).
   */
  static Map<Integer, Transcoder> transcoders(long seed, Arch arch) {
    Map<Integer, Transcoder> out = new TreeMap<>();
    Random r = new Random(seed);
    for (int l = 0; l < LAYERS; l++) {
      TranscoderConfig.Builder b = TranscoderConfig.builder().modelName("tiny").layer(l).dIn(WIDTH).dOut(WIDTH)
          .dSae(FEATURES).trainingTokens(4096L * 100).lrWarmUpSteps(10).lrDecaySteps(20).l1WarmUpSteps(5)
          .activation(arch.activation()).skipConnection(arch.skip());
      TranscoderConfig c = arch.activation() == Activation.RELU ? b.build() : b.k(K).build();
      TrainingProvenance p = new TrainingProvenance(1, 2, c.hash(), SoftwareVersions.current());
      float[] benc = random(r, FEATURES, 0.5);
      for (int i = 0; i < benc.length; i++) {
        benc[i] -= 0.8f;
      }
      List<float[]> values = new ArrayList<>();
      values.add(random(r, WIDTH * FEATURES, 0.4));
      values.add(benc);
      values.add(random(r, FEATURES * WIDTH, 0.3));
      values.add(random(r, WIDTH, 0.2));
      Random extra = new Random(seed * 31 + l);
      if (c.activation().hasThreshold()) {
        float[] threshold = new float[FEATURES];
        for (int f = 0; f < FEATURES; f++) {
          threshold[f] = f % 6 == 0 ? -0.1f - 0.4f * extra.nextFloat() : 0.1f + 0.9f * extra.nextFloat();
        }
        values.add(threshold);
      }
      if (c.skipConnection()) {
        values.add(random(extra, WIDTH * WIDTH, 0.3));
      }
      Transcoder tc = Transcoder.of(c, new ActivationScaling(2.0, 0.5, false), p, Device.cpu(),
          values.toArray(new float[0][]));
      out.put(l, arch.loaded() ? savedAndLoaded(tc) : tc);
    }
    return out;
  }

  private static Transcoder savedAndLoaded(Transcoder tc) {
    try {
      Path dir = Files.createTempDirectory("tiny-transcoder");
      try {
        tc.save(dir);
        return Transcoder.load(dir, Device.cpu());
      } finally {
        tc.close();
        try (Stream<Path> files = Files.walk(dir)) {
          for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
            Files.delete(f);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static long[] prompt(long seed, int length) {
    Random r = new Random(seed);
    long[] ids = new long[length];
    for (int i = 0; i < length; i++) {
      ids[i] = r.nextInt(VOCAB);
    }
    return ids;
  }

  static float[] random(Random r, int n, double scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextGaussian() * scale);
    }
    return v;
  }
}
