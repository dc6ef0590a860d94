package org.cellcircuits.jobs;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.transcoder.TrainBenchmark;

/**
 * Java side of jobs/bench/scale: the dry run at C2S-Pythia-410m's shape.
 *
 * <ul>
 *   <li>{@code model DIR [LAYERS]}: a checkpoint folder with C2S-Pythia-410m's config.json values (24 layers,
 *       d_model 1024, d_mlp 4096, 16 heads, vocab 50,304, rotary_pct 0.25, parallel residual, 2,048 positions),
 *       random weights stored as BF16 (as the real model.safetensors), and the demo tokenizer padded to 50,304
 *       entries. LAYERS (default 24) shrinks only the depth, for a smoke run of the plumbing.
 *   <li>{@code flops DIR TOKENS}: the bare forward of that checkpoint (one TOKENS-long row, every layer's MLP input
 *       and output kept as the harvest keeps them, no logits) and one transcoder training step at d_model 1024, 8x,
 *       4,096 tokens (DJL autograd + Adam, {@link TrainBenchmark#bareLoop}), each timed and divided into its matmul
 *       FLOP count; prints {@code FLOPS ...}.
 * </ul>
 */
public final class ScaleBenchmark {
  private ScaleBenchmark() {}

  /** C2S-Pythia-410m's config.json (huggingface.co/vandijklab/C2S-Pythia-410m-cell-type-prediction) at a depth. */
  static NeoXConfig pythia410m(int layers) {
    return new NeoXConfig(1024, 16, layers, 4096, 0.25, 10000, true, 1e-5, 50304, 2048, false, true, 0);
  }

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "model" -> writeModel(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 24);
      case "flops" -> flops(Path.of(args[1]), Integer.parseInt(args[2]));
      default -> throw new IllegalArgumentException("usage: ScaleBenchmark model DIR [LAYERS] | flops DIR TOKENS");
    }
  }

  static void writeModel(Path dir, int layers) throws Exception {
    Files.createDirectories(dir);
    long t0 = System.nanoTime();
    try (GptNeoX model = GptNeoX.initialize(pythia410m(layers), Device.cpu(), 410)) {
      model.save(dir, SafetensorsDType.BF16);
    }
    Files.writeString(dir.resolve("tokenizer.json"),
        paddedTokenizer(Files.readString(Path.of("demo/model/tokenizer.json")), 50304), StandardCharsets.UTF_8);
    System.out.printf(Locale.ROOT, "MODEL %s layers=%d bytes=%d seconds=%.1f%n", dir, layers,
        Files.size(dir.resolve("model.safetensors")), (System.nanoTime() - t0) / 1e9);
  }

  /**
   * The demo's BPE tokenizer with filler entries {@code <|unused_N|>} up to {@code size} ids, so that every id the
   * 50,304-row embedding can produce (a random model decodes any of them) has a string. No merge reaches a filler,
   * so prompts encode exactly as with the demo tokenizer.
   */
  static String paddedTokenizer(String json, int size) {
    JsonObject root = JsonParser.parseString(json).getAsJsonObject();
    JsonObject vocab = root.getAsJsonObject("model").getAsJsonObject("vocab");
    int next = vocab.size();
    for (var e : vocab.entrySet()) {
      next = Math.max(next, e.getValue().getAsInt() + 1);
    }
    for (int id = next; id < size; id++) {
      vocab.addProperty("<|unused_" + id + "|>", id);
    }
    return new GsonBuilder().disableHtmlEscaping().create().toJson(root);
  }

  static void flops(Path dir, int tokens) {
    int threads = Runtime.getRuntime().availableProcessors();
    try (GptNeoX model = GptNeoX.load(dir, Device.cpu()); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
      JniUtils.setNumThreads(threads); // after the load: the native library is not there before the engine starts
      NeoXConfig c = model.config();
      Random random = new Random(3);
      long[] ids = new long[tokens];
      for (int i = 0; i < tokens; i++) {
        ids[i] = random.nextInt(2000); // the demo tokenizer's ids, as prompts have
      }
      TokenBatch batch = TokenBatch.rightPadded(List.of(ids), 0);
      List<String> keep = new ArrayList<>();
      for (int l = 0; l < c.numLayers(); l++) {
        keep.add(HookNames.mlpIn(l));
        keep.add(HookNames.mlpOut(l));
      }
      ForwardOptions options = ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE).keeping(keep);
      double best = Double.MAX_VALUE;
      for (int it = 0; it < 3; it++) { // the first is the warm-up; best of the others
        long start = System.nanoTime();
        try (ActivationCache cache = model.run(manager, batch, options)) {
          cache.get(HookNames.mlpOut(c.numLayers() - 1)).getFloat(0, 0, 0);
        }
        if (it > 0) {
          best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
      }
      double d = c.hiddenSize();
      // Matmul FLOPs of one row of T tokens, per layer: QKV 6d^2 T, attention out 2d^2 T, MLP 4 d d_mlp T, scores and
      // mix 2 x 2 x d x T(T+1)/2 (causal: token t attends to t+1 positions). No unembedding (LogitsMode.NONE).
      double t = tokens;
      double forwardFlop = c.numLayers() * (8 * d * d * t + 4 * d * c.intermediateSize() * t + 2 * d * t * (t + 1));
      System.out.printf(Locale.ROOT, "FORWARD tokens=%d seconds=%.3f flop=%.4g gflops=%.1f tokens_per_s=%.1f%n",
          tokens, best, forwardFlop, forwardFlop / best / 1e9, tokens / best);

      int dModel = c.hiddenSize();
      List<NDArray[]> batches = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        batches.add(new NDArray[] {manager.randomNormal(new Shape(TrainBenchmark.BATCH, dModel)),
            manager.randomNormal(new Shape(TrainBenchmark.BATCH, dModel))});
      }
      TrainBenchmark.bareLoop(manager, batches, dModel, 1); // warm-up
      int steps = 3;
      long start = System.nanoTime();
      TrainBenchmark.bareLoop(manager, batches, dModel, steps);
      double perStep = (System.nanoTime() - start) / 1e9 / steps;
      // Five matmuls of 2 B d d_sae each: encoder and decoder forward; decoder input gradient, decoder weight gradient
      // and encoder weight gradient backward (the input needs no gradient).
      double stepFlop = 5 * 2.0 * TrainBenchmark.BATCH * dModel * dModel * TrainBenchmark.EXPANSION;
      System.out.printf(Locale.ROOT, "TRAINSTEP batch=%d d_sae=%d seconds=%.3f flop=%.4g gflops=%.1f%n",
          TrainBenchmark.BATCH, dModel * TrainBenchmark.EXPANSION, perStep, stepFlop, stepFlop / perStep / 1e9);
      System.out.printf(Locale.ROOT, "FLOPS forward_gflops=%.1f train_step_gflops=%.1f threads=%d%n",
          forwardFlop / best / 1e9, stepFlop / perStep / 1e9, threads);
    }
  }
}
