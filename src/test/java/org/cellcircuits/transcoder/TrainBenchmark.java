package org.cellcircuits.transcoder;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.Binary;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.harvest.ActivationSchema;
import org.cellcircuits.harvest.ActivationWriter;
import org.cellcircuits.harvest.LayerManifest;
import org.cellcircuits.harvest.VectorFormat;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageCommitter;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.io.StageSpec;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.jobs.StageRegistry;
import org.cellcircuits.jobs.StageRunner;

/**
 * Java side of jobs/bench/train. In one JVM:
 * <ol>
 *   <li>writes a synthetic harvested layer (no model): x ~ N(0, I) of width d_model, target = a fixed random ReLU MLP
 *       of x (4 d_model hidden units), stored as the harvest stores it (fp16 vectors, zstd Parquet, 32 MB row groups,
 *       a layer manifest) and committed with a {@code harvest} marker, so the train stage reads it like a real one;
 *   <li>the bare loop: the same maths (z = ReLU(x W_enc + b_enc), y = z W_dec + b_dec, loss = mean over rows of
 *       ||t - y||^2 + lambda sum_i z_i ||W_dec,i||), DJL autograd for the gradients, a hand-written Adam, the batches
 *       already in memory as fp32 NDArrays, one intra-op thread: the ceiling of this machine for this maths;
 *   <li>ours: the real {@code train} stage through {@link StageRunner} on Spark local[2], one layer, layer-parallel
 *       (one task), from Parquet to committed transcoder, checkpoint and train_log; timed from the stage call to its
 *       committed marker, Spark session start excluded (the session is made once, and the stage run once untimed,
 *       before the first round);
 *   <li>data-parallel scaling: the stage with data-parallel-workers 1 and 2 over the same 2 shards (the same batches
 *       and maths, so the same work), each step a Spark job.
 * </ol>
 * The bare loop and ours alternate ROUNDS times (then 1 and 2 workers do) and each keeps its best, so that other
 * work on the shared machine does not decide the ratio; every figure is printed with the 1-minute load average at
 * its end and the JVM's CPU seconds over it. Not a test: timings are never asserted.
 *
 * <p>usage: TrainBenchmark WORKDIR D_MODEL ROWS STEPS ROUNDS DP_STEPS DP_BATCH
 */
public final class TrainBenchmark {
  private TrainBenchmark() {}

  static final int FILES = 4;
  public static final int BATCH = 4096;
  public static final int EXPANSION = 8;
  static final double LAMBDA = 0.5;
  static final double LR = 3e-4;

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int d = Integer.parseInt(args[1]);
    int rows = Integer.parseInt(args[2]);
    int steps = Integer.parseInt(args[3]);
    int rounds = Integer.parseInt(args[4]);
    int dpSteps = Integer.parseInt(args[5]);
    int dpBatch = Integer.parseInt(args[6]);
    Engine.getInstance();
    System.out.printf(Locale.ROOT, "SETUP d_model=%d d_sae=%d batch=%d rows=%d steps=%d rounds=%d dp_steps=%d "
        + "dp_batch=%d libtorch_threads_main=%d cores=%d%n", d, d * EXPANSION, BATCH, rows, steps, rounds, dpSteps,
        dpBatch, JniUtils.getNumThreads(), Runtime.getRuntime().availableProcessors());

    String rootDir = work.resolve("run").toString();
    List<float[][]> inMemory = writeHarvest(rootDir, d, rows);

    SparkSession spark = SparkSession.builder().master("local[2]").appName("TrainBenchmark")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
      List<NDArray[]> batches = new ArrayList<>();
      for (float[][] b : inMemory) {
        batches.add(new NDArray[] {manager.create(b[0], new Shape(BATCH, d)), manager.create(b[1], new Shape(BATCH, d))});
      }
      long epochs = ((long) (steps + 2) * BATCH + rows - 1) / rows + 1;
      long dpEpochs = ((long) (dpSteps + 2) * dpBatch + rows - 1) / rows + 1;
      List<String> common = List.of("run.root=" + rootDir, "train.layers=[0]", "train.device=cpu",
          "train.expansion-factor=" + EXPANSION, "train.l1-coefficient=" + LAMBDA, "train.lr=" + LR,
          "train.scaling-batches=2", "train.resample-dead-features=true");
      List<String> single = new ArrayList<>(common);
      single.addAll(List.of("train.train-batch-size-tokens=" + BATCH,
          "train.training-tokens=" + (long) steps * BATCH, "train.lr-warm-up-steps=" + steps / 10,
          "train.lr-decay-steps=" + steps / 5, "train.l1-warm-up-steps=" + steps / 10, "train.max-epochs=" + epochs,
          "train.data-parallel-workers=1", "train.data-shards=1"));

      // Warm-up, outside every timing: JIT and libtorch's first calls; the stage once, whose first train_log write
      // pays Spark SQL's one-off start (class loading, code generation: seconds), as the Spark session start would.
      checkAgainstTrainer(manager, batches.get(0), bareLoop(manager, batches, d, 3));
      List<String> warm = new ArrayList<>(common);
      warm.addAll(List.of("train.train-batch-size-tokens=" + BATCH, "train.training-tokens=" + 2 * BATCH,
          "train.lr-warm-up-steps=0", "train.lr-decay-steps=0", "train.l1-warm-up-steps=0", "train.max-epochs=2"));
      runTrain(spark, rootDir, warm);

      Best bare = new Best();
      Best ours = new Best();
      double inTask = 0;
      for (int round = 1; round <= rounds; round++) {
        Clock c0 = Clock.now();
        bareLoop(manager, batches, d, steps);
        String b = bare.add((long) steps * BATCH, c0);
        System.out.printf(Locale.ROOT, "ROUND %d bare loop: %s%n", round, b);

        Clock c1 = Clock.now();
        StageMarker marker = runTrain(spark, rootDir, single);
        String o = ours.add(tokensTrained(marker), c1);
        inTask = Math.max(inTask, marker.stats().get("tokens_per_second"));
        System.out.printf(Locale.ROOT, "ROUND %d ours (train stage, layer-parallel, local[2]): %s in_task_tokens_per_s="
            + "%.0f ev=%.3f l0=%.1f%n", round, o, marker.stats().get("tokens_per_second"),
            marker.stats().get("explained_variance_layer_0"), marker.stats().get("l0_layer_0"));
      }

      // The price of a data-parallel step apart from its compute: the same stage with 1 worker and a step so small
      // (256 tokens per shard) that its compute is a few per cent of the step; what is left is scheduling the step's
      // Spark job, broadcasting the weights, returning and adding the gradients, and Adam on the driver.
      int tinyBatch = 512;
      int tinySteps = 20;
      double overheadMs = Double.NaN;
      if (dpSteps > 0) {
        List<String> tiny = new ArrayList<>(common);
        tiny.addAll(List.of("train.train-batch-size-tokens=" + tinyBatch,
            "train.training-tokens=" + (long) tinySteps * tinyBatch, "train.lr-warm-up-steps=2",
            "train.lr-decay-steps=4", "train.l1-warm-up-steps=2", "train.max-epochs=2",
            "train.data-parallel-workers=1", "train.data-shards=2"));
        for (int round = 1; round <= 2; round++) {
          StageMarker marker = runTrain(spark, rootDir, tiny);
          double stepMs = 1000.0 * tinyBatch / marker.stats().get("tokens_per_second");
          double computeMs = 1000.0 * tinyBatch / bare.tokensPerCpuSecond;
          overheadMs = round == 1 ? stepMs - computeMs : Math.min(overheadMs, stepMs - computeMs);
          System.out.printf(Locale.ROOT, "ROUND %d data-parallel step overhead: 1 worker, 2 shards, %d tokens a step: "
              + "%.0f ms a step, of which compute at the bare loop's rate per CPU-second %.0f ms, load %s%n", round,
              tinyBatch, stepMs, computeMs, load());
        }
      }

      Best one = new Best();
      Best two = new Best();
      double oneStepSeconds = Double.NaN;
      double oneInTask = 0;
      for (int round = 1; round <= rounds && dpSteps > 0; round++) {
        for (int workers : new int[] {1, 2}) {
          List<String> dp = new ArrayList<>(common);
          dp.addAll(List.of("train.train-batch-size-tokens=" + dpBatch,
              "train.training-tokens=" + (long) dpSteps * dpBatch, "train.lr-warm-up-steps=" + dpSteps / 10,
              "train.lr-decay-steps=" + dpSteps / 5, "train.l1-warm-up-steps=" + dpSteps / 10,
              "train.max-epochs=" + dpEpochs, "train.data-parallel-workers=" + workers, "train.data-shards=2"));
          Clock c = Clock.now();
          StageMarker marker = runTrain(spark, rootDir, dp);
          Best best = workers == 1 ? one : two;
          String s = best.add(tokensTrained(marker), c);
          double inStage = marker.stats().get("tokens_per_second");
          if (workers == 1) {
            oneInTask = Math.max(oneInTask, inStage);
          }
          System.out.printf(Locale.ROOT, "ROUND %d data-parallel, %d worker(s), 2 shards, batch %d: %s "
              + "in_stage_tokens_per_s=%.0f ms_per_step=%.0f ev=%.3f%n", round, workers, dpBatch, s, inStage,
              1000.0 * dpBatch / inStage, marker.stats().get("explained_variance_layer_0"));
        }
      }

      System.out.printf(Locale.ROOT, "BARE tokens_per_s=%.0f tokens_per_cpu_s=%.0f load=%s (best of %d; DJL autograd, "
          + "hand-written Adam, batches in memory, 1 thread)%n", bare.tokensPerSecond, bare.tokensPerCpuSecond,
          bare.loadAtBest, rounds);
      System.out.printf(Locale.ROOT, "OURS tokens_per_s=%.0f tokens_per_cpu_s=%.0f in_task_tokens_per_s=%.0f load=%s "
          + "(best of %d; stage wall time, Spark session start excluded)%n", ours.tokensPerSecond,
          ours.tokensPerCpuSecond, inTask, ours.loadAtBest, rounds);
      String dpFields = "";
      if (dpSteps > 0) {
        // One worker computes the step's dpBatch rows at the bare loop's rate at best; what a step takes beyond that is
        // the price of making every step a Spark job (schedule, broadcast the weights, collect and reduce the gradients,
        // Adam on the driver).
        double stepMs = 1000.0 * dpBatch / oneInTask;
        System.out.printf(Locale.ROOT, "DP1 tokens_per_s=%.0f tokens_per_cpu_s=%.0f load=%s in_stage_ms_per_step=%.0f "
            + "spark_overhead_ms_per_step=%.0f (%d-token steps; %.0f%% of a %d-token step)%n", one.tokensPerSecond,
            one.tokensPerCpuSecond, one.loadAtBest, stepMs, overheadMs, tinyBatch, 100 * overheadMs / stepMs, dpBatch);
        System.out.printf(Locale.ROOT, "DP2 tokens_per_s=%.0f tokens_per_cpu_s=%.0f load=%s speed_up=%.2f "
            + "cpu_per_token_vs_1_worker=%.2f%n", two.tokensPerSecond, two.tokensPerCpuSecond, two.loadAtBest,
            two.tokensPerSecond / one.tokensPerSecond, one.tokensPerCpuSecond / two.tokensPerCpuSecond);
        dpFields = String.format(Locale.ROOT, " dp_efficiency=%.2f", two.tokensPerSecond / one.tokensPerSecond / 2);
      }
      // ratio is on wall-clock tokens/s (the figure); ratio_cpu on tokens per CPU-second of the JVM, which the
      // share of a busy machine that each side got does not move.
      System.out.printf(Locale.ROOT, "RESULT tokens_per_s=%.0f ratio=%.2f%s ratio_cpu=%.2f load=%s%n",
          ours.tokensPerSecond, ours.tokensPerSecond / bare.tokensPerSecond, dpFields,
          ours.tokensPerCpuSecond / bare.tokensPerCpuSecond, ours.loadAtBest);
    } finally {
      spark.stop();
    }
  }

  /** Runs the train stage from scratch (its earlier output and checkpoints removed) and returns its marker. */
  static StageMarker runTrain(SparkSession spark, String rootDir, List<String> overrides) throws Exception {
    deleteRecursively(Path.of(rootDir, "train"));
    Config config = ConfigLoader.load(null, overrides);
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config, settings -> spark, false)) {
      return runner.run("train").marker();
    }
  }

  static long tokensTrained(StageMarker marker) {
    return Math.round(marker.stats().get("tokens_per_second") * marker.stats().get("seconds"));
  }

  /**
   * {@code steps} steps of the bare loop over the in-memory batches, cycled: autograd for the gradients of the mean
   * loss, then Adam (torch.optim.Adam's update) written out on the parameters. Returns the first step's gradients
   * (copied out), for the check against the trainer's hand-written ones.
   */
  public static float[][] bareLoop(NDManager parent, List<NDArray[]> batches, int d, int steps) {
    int dSae = d * EXPANSION;
    float[][] firstGradients = new float[4][];
    try (NDManager m = parent.newSubManager()) {
      m.getEngine().setRandomSeed(11);
      NDArray wEnc = m.randomNormal(0, (float) (0.1 / Math.sqrt(d)), new Shape(d, dSae), DataType.FLOAT32);
      NDArray bEnc = m.zeros(new Shape(dSae));
      NDArray wDec = m.randomNormal(0, (float) (0.1 / Math.sqrt(d)), new Shape(dSae, d), DataType.FLOAT32);
      NDArray bDec = m.zeros(new Shape(d));
      NDArray[] params = {wEnc, bEnc, wDec, bDec};
      NDArray[] first = new NDArray[4];
      NDArray[] second = new NDArray[4];
      for (int i = 0; i < 4; i++) {
        params[i].setRequiresGradient(true);
        first[i] = m.zeros(params[i].getShape());
        second[i] = m.zeros(params[i].getShape());
      }
      double b1 = 0.9;
      double b2 = 0.999;
      for (int step = 1; step <= steps; step++) {
        NDArray[] batch = batches.get((step - 1) % batches.size());
        try (NDManager s = m.newSubManager()) {
          // Every array a step makes lands in s and dies with it (results go to the first operand's manager).
          s.tempAttachAll(batch[0], batch[1], wEnc, bEnc, wDec, bDec, first[0], first[1], first[2], first[3],
              second[0], second[1], second[2], second[3]);
          try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray x = batch[0];
            NDArray t = batch[1];
            NDArray z = x.matMul(wEnc).add(bEnc).maximum(0f);
            NDArray y = z.matMul(wDec).add(bDec);
            NDArray norms = wDec.square().sum(new int[] {1}).sqrt();
            NDArray loss = t.sub(y).square().sum().add(z.mul(norms).sum().mul(LAMBDA)).div(BATCH);
            gc.backward(loss);
          }
          double stepSize = LR / (1 - Math.pow(b1, step));
          double correction2 = Math.sqrt(1 - Math.pow(b2, step));
          for (int i = 0; i < 4; i++) {
            NDArray g = params[i].getGradient();
            if (step == 1) {
              firstGradients[i] = g.toFloatArray();
            }
            first[i].muli(b1).addi(g.mul(1 - b1));
            second[i].muli(b2).addi(g.square().muli(1 - b2));
            params[i].subi(first[i].div(second[i].sqrt().divi(correction2).addi(1e-8)).muli(stepSize));
          }
        }
      }
      // Reads the result, so no lazily queued work is left out of the timing.
      wEnc.sum().getFloat();
    }
    return firstGradients;
  }

  /**
   * The bare loop must compute the maths the trainer does: its autograd gradients of step 1 against
   * {@link TranscoderLoss}'s hand-written ones at the bare loop's initial weights, divided by the batch as the trainer
   * does. Re-draws the initial weights from the same seed. Fails the benchmark if they differ.
   */
  static void checkAgainstTrainer(NDManager parent, NDArray[] batch, float[][] autograd) {
    try (NDManager m = parent.newSubManager()) {
      int d = (int) batch[0].getShape().get(1);
      int dSae = d * EXPANSION;
      m.getEngine().setRandomSeed(11);
      NDArray wEnc = m.randomNormal(0, (float) (0.1 / Math.sqrt(d)), new Shape(d, dSae), DataType.FLOAT32);
      NDArray bEnc = m.zeros(new Shape(dSae));
      NDArray wDec = m.randomNormal(0, (float) (0.1 / Math.sqrt(d)), new Shape(dSae, d), DataType.FLOAT32);
      NDArray bDec = m.zeros(new Shape(d));
      NDArray x = batch[0].duplicate();
      x.attach(m);
      NDArray t = batch[1].duplicate();
      t.attach(m);
      TranscoderLoss.Result r = TranscoderLoss.compute(wEnc, bEnc, wDec, bDec, x, t, LAMBDA, true);
      double worst = 0;
      List<NDArray> hand = r.gradients();
      for (int i = 0; i < 4; i++) {
        float[] h = hand.get(i).toFloatArray();
        double scale = 0;
        double diff = 0;
        for (int e = 0; e < h.length; e++) {
          scale = Math.max(scale, Math.abs(h[e] / BATCH));
          diff = Math.max(diff, Math.abs(h[e] / BATCH - autograd[i][e]));
        }
        worst = Math.max(worst, diff / Math.max(scale, 1e-30));
      }
      System.out.printf(Locale.ROOT, "CHECK bare loop's autograd vs the trainer's hand-written gradients at step 1: "
          + "max |difference| / max |gradient| = %.2e%n", worst);
      if (!(worst < 1e-3)) {
        throw new IllegalStateException("the bare loop does not compute the trainer's gradients: relative difference "
            + worst);
      }
    }
  }

  /**
   * Writes layer 0 of a synthetic harvest under {@code rootDir} and commits it; returns 8 batches of (x, target) rows
   * as stored (fp16-rounded), for the bare loop.
   */
  static List<float[][]> writeHarvest(String rootDir, int d, int rows) throws Exception {
    Configuration conf = new Configuration();
    RunRoot root = RunRoot.of(rootDir, conf);
    StageSpec spec = new StageSpec("harvest", ConfigFactory.parseString(String.format(Locale.ROOT,
        "harvest { vector-format = fp16, layers = [0] }, model { path = \"synthetic-relu-mlp-d%d\" }", d)), Map.of());
    List<float[][]> keep = new ArrayList<>();
    long t0 = System.nanoTime();
    StageCommitter.run(root, spec, true, attemptDir -> {
      Path dir = Path.of(java.net.URI.create(attemptDir)).resolve("activations").resolve(ActivationSchema.layerFolder(0));
      Files.createDirectories(dir);
      int hidden = 4 * d;
      List<LayerManifest.FileEntry> entries = new ArrayList<>();
      try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
        m.getEngine().setRandomSeed(7);
        NDArray a = m.randomNormal(0, (float) (1 / Math.sqrt(d)), new Shape(d, hidden), DataType.FLOAT32);
        NDArray bias = m.randomNormal(0, 0.5f, new Shape(hidden), DataType.FLOAT32);
        NDArray out = m.randomNormal(0, (float) (1 / Math.sqrt(hidden)), new Shape(hidden, d), DataType.FLOAT32);
        int perFile = rows / FILES;
        byte[] inBytes = new byte[2 * d];
        byte[] outBytes = new byte[2 * d];
        float[] rounded = new float[d];
        int id = 0;
        for (int f = 0; f < FILES; f++) {
          String name = "part-" + f + ".parquet";
          org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(dir.resolve(name).toUri());
          try (ActivationWriter w = new ActivationWriter(file, conf, d, 0, VectorFormat.FP16, CompressionCodecName.ZSTD,
              32L << 20)) {
            for (int from = 0; from < perFile; from += BATCH) {
              int n = Math.min(BATCH, perFile - from);
              float[] x;
              float[] t;
              try (NDManager s = m.newSubManager()) {
                NDArray xs = s.randomNormal(new Shape(n, d));
                x = xs.toFloatArray();
                t = xs.matMul(a).add(bias).maximum(0f).matMul(out).toFloatArray();
              }
              boolean kept = keep.size() < 8 && n == BATCH;
              float[][] both = kept ? new float[][] {new float[n * d], new float[n * d]} : null;
              for (int r = 0; r < n; r++, id++) {
                VectorFormat.FP16.encode(x, r * d, d, inBytes, 0);
                VectorFormat.FP16.encode(t, r * d, d, outBytes, 0);
                if (kept) {
                  VectorFormat.FP16.decode(inBytes, 0, d, rounded, 0);
                  System.arraycopy(rounded, 0, both[0], r * d, d);
                  VectorFormat.FP16.decode(outBytes, 0, d, rounded, 0);
                  System.arraycopy(rounded, 0, both[1], r * d, d);
                }
                w.write(Binary.fromString("cell-" + id / 200), id % 200, 7, null, 0, inBytes, 0, outBytes, 0);
              }
              if (kept) {
                keep.add(both);
              }
            }
          }
          entries.add(new LayerManifest.FileEntry(name, perFile, Files.size(dir.resolve(name))));
        }
      }
      new LayerManifest(0, d, VectorFormat.FP16, entries).write(new org.apache.hadoop.fs.Path(dir.toUri()), conf);
      return StageResult.of(Map.of("activations/layer=0", (long) (rows / FILES) * FILES)).withStat("d_model", d);
    });
    System.out.printf(Locale.ROOT, "HARVEST synthetic layer: %d rows x 2 x %d fp16 in %d files, written in %.1f s%n",
        (rows / FILES) * FILES, d, FILES, (System.nanoTime() - t0) / 1e9);
    return keep;
  }

  static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> all = Files.walk(p)) {
      for (Path q : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }

  /** Wall and process CPU time at one instant. */
  record Clock(long wallNanos, long cpuNanos) {
    static Clock now() {
      var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
      return new Clock(System.nanoTime(), os.getProcessCpuTime());
    }
  }

  static String load() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }

  /** The best throughputs of one side over the rounds, and the load when the best wall-clock run ended. */
  static final class Best {
    double tokensPerSecond;
    double tokensPerCpuSecond;
    String loadAtBest = "?";

    String add(long tokens, Clock from) {
      Clock to = Clock.now();
      double seconds = (to.wallNanos() - from.wallNanos()) / 1e9;
      double cpuSeconds = (to.cpuNanos() - from.cpuNanos()) / 1e9;
      double wall = tokens / seconds;
      double cpu = tokens / cpuSeconds;
      String load = load();
      if (wall > tokensPerSecond) {
        tokensPerSecond = wall;
        loadAtBest = load;
      }
      tokensPerCpuSecond = Math.max(tokensPerCpuSecond, cpu);
      return String.format(Locale.ROOT, "%d tokens in %.1f s = %.0f tokens/s, %.1f cpu-s = %.0f tokens/cpu-s "
          + "(%.2f cores busy), load %s", tokens, seconds, wall, cpuSeconds, cpu, cpuSeconds / seconds, load);
    }
  }
}
