package org.cellcircuits.circuits;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import com.typesafe.config.Config;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.model.TokenizedPrompt;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderStore;

/**
 * Java side of jobs/bench/circuits: on a run root whose sentences and train stages have committed (the demo), in one
 * JVM with one thread count, for the same cells:
 * <ol>
 *   <li>forward: one plain forward pass of the model per cell ({@code GptNeoX.run}, all logits), the median of
 *       FORWARDS passes per cell and round;
 *   <li>graph: the cell's whole circuit at the config's {@code circuits} settings ({@link CircuitExtractor#extract}:
 *       forward + freeze, budgeted graph, pruning, scores, total effects, ablation check), timed part by part
 *       ({@link CircuitProfile}).
 * </ol>
 * The two alternate ROUNDS times; each cell keeps its best (lowest) time of each, since other work on a shared machine
 * disturbs single timings. Cells: the held-out ones when {@code circuits.cells = held-out} (as the stage), taken in
 * turn from each annotated type (sorted by cell id), CELLS in all.
 *
 * <p>Prints {@code RESULT cells_per_s=<graphs/s> ratio=<forward time / graph time> rows=<rows per graph>}; the script
 * turns it into the BENCH line. A ratio of 0.05 is a graph of 20 forward passes.
 *
 * <p>usage: CircuitsBenchmark RUN_ROOT CONFIG CELLS ROUNDS THREADS FORWARDS [key=value ...] (config overrides, e.g.
 * circuits.max-feature-nodes=128)
 */
public final class CircuitsBenchmark {
  private CircuitsBenchmark() {}

  public static void main(String[] args) throws Exception {
    String root = args[0];
    Path configFile = Path.of(args[1]);
    int nCells = Integer.parseInt(args[2]);
    int rounds = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    int forwards = Integer.parseInt(args[5]);
    List<String> overrides = new ArrayList<>(Arrays.asList(args).subList(6, args.length));
    overrides.add("run.root=\"" + root + "\"");
    Config config = ConfigLoader.load(configFile, overrides);
    CircuitParams params = CircuitParams.fromConfig(config);
    CircuitSettings settings = params.settings();

    // ---- the cells: held-out ones (as the stage), round-robin over the annotated types
    List<CellPrompt> cells = new ArrayList<>();
    Configuration hadoop;
    RunRoot run;
    SparkSession spark = SparkSession.builder().master("local[1]").appName("CircuitsBenchmark")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      hadoop = spark.sparkContext().hadoopConfiguration();
      run = RunRoot.of(root, hadoop);
      List<Row> rows = spark.read().parquet(run.committedPath("sentences", "sentences").toString())
          .select("cell_id", "cell_type", "genes", "prompt").collectAsList();
      Map<String, List<Row>> byType = new TreeMap<>();
      for (Row r : rows) {
        if (!params.heldOutOnly() || params.split().isHeldOut(r.getString(0))) {
          byType.computeIfAbsent(String.valueOf(r.getString(1)), k -> new ArrayList<>()).add(r);
        }
      }
      byType.values().forEach(l -> l.sort(Comparator.comparing((Row r) -> r.getString(0))));
      for (int i = 0; cells.size() < nCells; i++) {
        int before = cells.size();
        for (List<Row> l : byType.values()) {
          if (i < l.size() && cells.size() < nCells) {
            Row r = l.get(i);
            cells.add(new CellPrompt(r.getString(0), r.getString(1), r.getList(2), r.getString(3)));
          }
        }
        if (cells.size() == before) {
          break;
        }
      }
    } finally {
      spark.stop();
    }

    ExecutorModels.Loaded loaded = ExecutorModels.get(params.model().path(), "cpu", "fp32", threads, hadoop);
    JniUtils.setNumThreads(threads);
    GptNeoX model = loaded.model();
    Map<Integer, Transcoder> transcoders = new TreeMap<>();
    for (int layer : TranscoderStore.committedLayers(run).keySet()) {
      transcoders.put(layer, TranscoderStore.loadCommitted(run, layer, Device.cpu()));
    }
    List<TokenizedPrompt> prompts = cells.stream().map(c -> c.tokenize(loaded.prompts())).toList();
    int tokens = prompts.stream().mapToInt(TokenizedPrompt::length).sum();
    System.out.printf(Locale.ROOT, "CELLS %d cells (%s), %.1f tokens per prompt; %d layers with transcoders; "
            + "intra-op threads %d; settings %s%n", cells.size(), params.heldOutOnly() ? "held-out" : "all",
        tokens / (double) cells.size(), transcoders.size(), JniUtils.getNumThreads(), settings);

    try (ReplacementWeights weights = new ReplacementWeights(model, transcoders)) {
      CircuitExtractor extractor = new CircuitExtractor(model, weights, settings, params.randomSeed());
      CircuitProfile profile = new CircuitProfile();
      CircuitProfile bestProfile = null;
      int bestRound = 0;
      CircuitExtractor.TargetResolver predicted = CircuitsBenchmark::argmax;
      // warm-up, not timed: a few forwards and graphs (JIT, libtorch's first calls)
      for (int i = 0; i < Math.min(3, cells.size()); i++) {
        forward(model, prompts.get(i));
        extractor.extract(cells.get(i).cellId(), cells.get(i).cellType(), prompts.get(i), predicted);
      }

      int n = cells.size();
      double[] bestForward = new double[n];
      double[] bestGraph = new double[n];
      Arrays.fill(bestForward, Double.MAX_VALUE);
      Arrays.fill(bestGraph, Double.MAX_VALUE);
      CellCircuit[] circuits = new CellCircuit[n];
      double forwardCpu = Double.MAX_VALUE;
      double graphCpu = Double.MAX_VALUE;
      for (int round = 1; round <= rounds; round++) {
        profile = new CircuitProfile();
        extractor.profile(profile);
        double cpu0 = cpuSeconds();
        double wall = 0;
        for (int i = 0; i < n; i++) {
          double[] times = new double[forwards];
          for (int k = 0; k < forwards; k++) {
            long t0 = System.nanoTime();
            forward(model, prompts.get(i));
            times[k] = (System.nanoTime() - t0) / 1e9;
          }
          Arrays.sort(times);
          double median = times[forwards / 2];
          wall += median;
          bestForward[i] = Math.min(bestForward[i], median);
        }
        double fCpu = (cpuSeconds() - cpu0) / forwards;
        forwardCpu = Math.min(forwardCpu, fCpu);
        double fWall = wall;

        cpu0 = cpuSeconds();
        wall = 0;
        for (int i = 0; i < n; i++) {
          long t0 = System.nanoTime();
          circuits[i] = extractor.extract(cells.get(i).cellId(), cells.get(i).cellType(), prompts.get(i), predicted);
          long dt = System.nanoTime() - t0;
          profile.totalNanos += dt;
          wall += dt / 1e9;
          bestGraph[i] = Math.min(bestGraph[i], dt / 1e9);
        }
        double gCpu = cpuSeconds() - cpu0;
        graphCpu = Math.min(graphCpu, gCpu);
        if (bestProfile == null || profile.totalNanos < bestProfile.totalNanos) {
          bestProfile = profile;
          bestRound = round;
        }
        System.out.printf(Locale.ROOT, "ROUND %d forward %.2f ms/cell (cpu %.2f ms) | graph %.1f ms/cell (cpu %.1f ms)"
            + " | graph = %.1f forwards%n", round, 1e3 * fWall / n, 1e3 * fCpu / n, 1e3 * wall / n, 1e3 * gCpu / n,
            wall / fWall);
      }

      double forwardTime = Arrays.stream(bestForward).sum();
      double graphTime = Arrays.stream(bestGraph).sum();
      double rows = Arrays.stream(circuits).mapToInt(CellCircuit::rowsComputed).average().orElse(0);
      for (int i = 0; i < n; i++) {
        CellCircuit c = circuits[i];
        System.out.printf(Locale.ROOT, "CELL %s %s T=%d active=%d rows=%d kept=%d edges=%d repl=%.3f compl=%.3f "
                + "forward=%.2fms graph=%.1fms (%.1f forwards)%n", c.cellId(), c.cellType(), c.prompt().length(),
            c.activeFeatures(), c.rowsComputed(), c.pruned().keptNodeCount(), c.pruned().keptEdgeCount(),
            c.scores().replacement(), c.scores().completeness(), 1e3 * bestForward[i], 1e3 * bestGraph[i],
            bestGraph[i] / bestForward[i]);
      }
      System.out.printf("PROFILE of round %d, the fastest (graph times are mean ms per graph of that round)%n",
          bestRound);
      System.out.print(bestProfile.table());
      System.out.printf(Locale.ROOT, "SUMMARY cells=%d rounds=%d threads=%d forward=%.2fms graph=%.1fms (best per "
              + "cell, mean) graph_in_forwards=%.1f cpu_ratio=%.4f kept_nodes=%.1f replacement=%.4f completeness=%.4f "
              + "active_features=%.0f%n", n, rounds, threads, 1e3 * forwardTime / n, 1e3 * graphTime / n,
          graphTime / forwardTime, forwardCpu / graphCpu,
          Arrays.stream(circuits).mapToInt(c -> c.pruned().keptNodeCount()).average().orElse(0),
          Arrays.stream(circuits).mapToDouble(c -> c.scores().replacement()).average().orElse(0),
          Arrays.stream(circuits).mapToDouble(c -> c.scores().completeness()).average().orElse(0),
          Arrays.stream(circuits).mapToInt(CellCircuit::activeFeatures).average().orElse(0));
      System.out.printf(Locale.ROOT, "RESULT cells_per_s=%.2f ratio=%.4f rows=%.1f%n", n / graphTime,
          forwardTime / graphTime, rows);
    } finally {
      transcoders.values().forEach(Transcoder::close);
    }
  }

  private static void forward(GptNeoX model, TokenizedPrompt prompt) {
    try (ActivationCache c = model.run(model.manager(), TokenBatch.rightPadded(List.of(prompt.ids()), 0),
        ForwardOptions.logitsOnly())) {
      c.logits().getFloat(0, 0, 0);
    }
  }

  /** The "predicted" target: the model's own next token, the argmax of the last position's logits. */
  private static OutputTarget argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return OutputTarget.logit(best, "predicted token " + best);
  }

  /** CPU time of this JVM, every thread (libtorch's pool included). */
  private static double cpuSeconds() {
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    return os.getProcessCpuTime() / 1e9;
  }
}
