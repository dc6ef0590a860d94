package org.cellcircuits.circuits;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.NeoXConfig;
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
   * A random, unfolded transcoder (training scale factors 2 and 0.5) for every block, its encoder bias shifted so that
   * about a third of the features fire on a token.
   */
  static Map<Integer, Transcoder> transcoders(long seed) {
    Map<Integer, Transcoder> out = new TreeMap<>();
    Random r = new Random(seed);
    for (int l = 0; l < LAYERS; l++) {
      TranscoderConfig c = TranscoderConfig.builder().modelName("tiny").layer(l).dIn(WIDTH).dOut(WIDTH)
          .dSae(FEATURES).trainingTokens(4096L * 100).lrWarmUpSteps(10).lrDecaySteps(20).l1WarmUpSteps(5).build();
      TrainingProvenance p = new TrainingProvenance(1, 2, c.hash(), SoftwareVersions.current());
      float[] benc = random(r, FEATURES, 0.5);
      for (int i = 0; i < benc.length; i++) {
        benc[i] -= 0.8f;
      }
      out.put(l, Transcoder.of(c, new ActivationScaling(2.0, 0.5, false), p, Device.cpu(),
          random(r, WIDTH * FEATURES, 0.4), benc, random(r, FEATURES * WIDTH, 0.3), random(r, WIDTH, 0.2)));
    }
    return out;
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
