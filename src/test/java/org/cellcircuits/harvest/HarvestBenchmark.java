package org.cellcircuits.harvest;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.jni.JniUtils;
import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.jobs.StageRegistry;
import org.cellcircuits.jobs.StageRunner;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.LengthBatches;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.model.PromptTokenizer;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.model.TokenizedPrompt;

/**
 * Java side of jobs/bench/harvest. Makes a Pythia-70m-shaped random model with the demo tokenizer and a sentences
 * table of C2S-length prompts (200 genes from the demo gene list), then in one JVM:
 * <ol>
 *   <li>bare forward: the same model, the same length-sorted batches (prompt + answer), the same hooks (MLP input and
 *       output of every layer, final LayerNorm), no Spark, no Parquet, no encoding; one caller using every core, and
 *       (for information) one worker per core with one thread each;
 *   <li>harvest: the stage end to end on Spark local[2] (sentences Parquet in, activations and predictions Parquet
 *       out, committed), default settings.
 * </ol>
 * Both sides run ROUNDS times, alternating, and each keeps its best. Throughput is measured in wall-clock tokens/s
 * and in tokens per CPU-second of the JVM; the ratio printed last is on CPU time, which other work on a shared
 * machine does not distort (see the comment in {@code main}).
 *
 * <p>The model answers like a trained one: the random weights are kept (so compute is that of Pythia-70m), but the
 * embedding is scaled up (EMBED_SCALE, default 50: embedding entries ~1, the size of the blocks' outputs) so each
 * position's final hidden state leans towards its own token, and the unembedding rows of the answer tokens make the
 * model continue "...is:" with " mast cell." (a bigram chain). A larger scale makes every layer's activations nearly
 * a function of the token alone, which compresses unrealistically well. ACCURACY of the cells are annotated "mast cell" and are settled by the harvest's
 * teacher-forced pass; the others need greedy decoding, as misclassified cells of a real model do.
 *
 * <p>usage: HarvestBenchmark WORKDIR CELLS ACCURACY EMBED_SCALE ROUNDS [key=value ...]; the key=value pairs are config
 * overrides of the harvest run (e.g. harvest.compression=snappy).
 */
public final class HarvestBenchmark {
  private HarvestBenchmark() {}

  static final NeoXConfig PYTHIA_70M = new NeoXConfig(512, 8, 6, 2048, 0.25, 10000, true, 1e-5, 50304, 2048, false,
      true, 0);

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int nCells = Integer.parseInt(args[1]);
    double accuracy = Double.parseDouble(args[2]);
    float embedScale = Float.parseFloat(args[3]);
    int rounds = Integer.parseInt(args[4]);
    String[] overrides = Arrays.copyOfRange(args, 5, args.length);
    int threads = Runtime.getRuntime().availableProcessors();

    List<String> symbols = Files.readAllLines(Path.of("demo/genes.tsv")).stream().skip(1)
        .map(l -> l.split("\t")[0]).toList();
    Random random = new Random(1);
    List<CellPrompt> cells = new ArrayList<>();
    for (int i = 0; i < nCells; i++) {
      List<String> pool = new ArrayList<>(symbols);
      java.util.Collections.shuffle(pool, random);
      List<String> genes = pool.subList(0, 200);
      String prompt = String.format(HarvestFixtures.TEMPLATE, 200,
          String.join(" ", genes));
      String type = random.nextDouble() < accuracy ? "mast cell" : "fibroblast";
      cells.add(new CellPrompt(String.format("cell-%05d", i), type, genes, prompt));
    }

    long[] chain;
    try (PromptTokenizer tok = PromptTokenizer.load(HarvestFixtures.DEMO_TOKENIZER)) {
      long[] p = tok.encode(cells.get(0).prompt(), cells.get(0).genes()).ids();
      long[] a = tok.ids(CellPrompt.answer("mast cell"));
      chain = new long[a.length + 1];
      chain[0] = p[p.length - 1];
      System.arraycopy(a, 0, chain, 1, a.length);
    }
    Path modelDir = HarvestFixtures.model(work.resolve("model"), PYTHIA_70M, 70, model -> {
      Map<String, NDArray> w = model.parameters();
      NDArray embed = w.get("gpt_neox.embed_in.weight");
      embed.muli(embedScale);
      NDArray unembed = w.get("embed_out.weight");
      for (int i = 0; i + 1 < chain.length; i++) {
        NDArray e = embed.get(chain[i]);
        NDArray centered = e.sub(e.mean());
        unembed.set(new NDIndex(chain[i + 1]), centered.div(centered.pow(2).mean().add(1e-5).sqrt()));
      }
    });

    Config config = HarvestFixtures.config(work.resolve("run").toString(), modelDir, overrides);
    // The benchmark times the harvest, not how fast progress is logged.
    config = config.withValue("cellcircuits.run.progress-interval",
        com.typesafe.config.ConfigValueFactory.fromAnyRef("60s"));
    HarvestParams params = HarvestParams.fromConfig(config);

    // ---- the bare forward's inputs: the harvest's batches (prompt + answer, length-sorted per task's cells)
    List<TokenBatch> batches = new ArrayList<>();
    long promptTokens = 0;
    try (PromptTokenizer tok = PromptTokenizer.load(modelDir);
        var hf = org.cellcircuits.model.CellTypePredictor.loadTokenizer(modelDir)) {
      List<long[]> sequences = new ArrayList<>();
      for (CellPrompt c : cells) {
        TokenizedPrompt tp = tok.encode(c.prompt(), c.genes());
        long[] answer = hf.encode(CellPrompt.answer(c.cellType()), false, false).getIds();
        long[] ids = Arrays.copyOf(tp.ids(), tp.length() + answer.length);
        System.arraycopy(answer, 0, ids, tp.length(), answer.length);
        sequences.add(ids);
        promptTokens += tp.length();
      }
      for (int from = 0; from < sequences.size(); from += params.cellsPerTask()) {
        List<long[]> part = sequences.subList(from, Math.min(sequences.size(), from + params.cellsPerTask()));
        LengthBatches lb = LengthBatches.of(part.stream().mapToInt(s -> s.length).toArray(), params.tokensPerBatch());
        for (int[] b : lb.batches()) {
          batches.add(TokenBatch.rightPadded(Arrays.stream(b).mapToObj(part::get).toList(), 0));
        }
      }
    }
    List<String> keep = new ArrayList<>();
    for (int l = 0; l < PYTHIA_70M.numLayers(); l++) {
      keep.add(HookNames.mlpIn(l));
      keep.add(HookNames.mlpOut(l));
    }
    keep.add(HookNames.lnFinalNormalized());
    ForwardOptions options = ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE).keeping(keep);

    // Other work on a shared machine (this one has 2 cores and other jobs) changes how much of it a run gets from
    // minute to minute, so wall-clock throughputs taken a minute apart do not compare. Each side is therefore also
    // measured in tokens per CPU-second of this JVM (every thread: Spark's, GC, JIT included), which does not depend
    // on the share of the machine a run got; the BENCH ratio is that one. Both sides alternate ROUNDS times and each
    // keeps its best.
    Best bare = new Best();
    Best parallel = new Best();
    Best harvest = new Best();
    Map<String, Double> stats = null;
    SparkSession spark = SparkSession.builder().master("local[2]").appName("HarvestBenchmark")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    try (GptNeoX model = GptNeoX.load(modelDir, Device.cpu())) {
      RunRoot root = RunRoot.of(work.resolve("run").toString(), spark.sparkContext().hadoopConfiguration());
      HarvestFixtures.commitSentences(spark, root, cells);
      try (ActivationCache warm = model.run(model.manager(), batches.get(0), options)) {
        warm.get(HookNames.mlpOut(0)).getFloat(0, 0, 0);
      }
      for (int round = 1; round <= rounds; round++) {
        // Bare forward, one caller with every core (as jobs/bench/forward).
        JniUtils.setNumThreads(threads);
        Clock c0 = Clock.now();
        for (TokenBatch b : batches) {
          try (ActivationCache cache = model.run(model.manager(), b, options)) {
            cache.get(HookNames.mlpOut(PYTHIA_70M.numLayers() - 1)).getFloat(0, 0, 0);
          }
        }
        String b = bare.add(promptTokens, c0);

        // Bare forward, one worker per core with one intra-op thread each: how Spark's tasks use the cores.
        Clock c1 = Clock.now();
        parallelForward(model, batches, options, threads);
        String p = parallel.add(promptTokens, c1);

        // The harvest stage end to end.
        Files.deleteIfExists(work.resolve("run/harvest/_COMMITTED.json"));
        Clock c2 = Clock.now();
        StageMarker marker;
        try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config, settings -> spark, false)) {
          marker = runner.run("harvest").marker();
        }
        String h = harvest.add(marker.stats().get("prompt_tokens").longValue(), c2);
        stats = marker.stats();
        System.out.printf(Locale.ROOT, "ROUND %d bare: %s | bare one worker per core: %s | harvest: %s%n", round, b, p,
            h);
      }
    } finally {
      spark.stop();
    }
    double bytesRatio = stats.get("bytes_per_stored_token") / stats.get("raw_fp16_bytes_per_stored_token");
    double bareWall = Math.max(bare.tokensPerSecond, parallel.tokensPerSecond);
    double bareCpu = Math.max(bare.tokensPerCpuSecond, parallel.tokensPerCpuSecond);
    System.out.printf(Locale.ROOT, "BARE tokens_per_s=%.1f tokens_per_cpu_s=%.1f (best of %d; one caller, %d threads) "
        + "prompt_tokens=%d batches=%d%n", bare.tokensPerSecond, bare.tokensPerCpuSecond, rounds, threads, promptTokens,
        batches.size());
    System.out.printf(Locale.ROOT, "BARE_PARALLEL tokens_per_s=%.1f tokens_per_cpu_s=%.1f (best of %d; %d workers x 1 "
        + "thread)%n", parallel.tokensPerSecond, parallel.tokensPerCpuSecond, rounds, threads);
    System.out.printf(Locale.ROOT, "HARVEST tokens_per_s=%.1f tokens_per_cpu_s=%.1f (best of %d) cells=%d "
            + "bytes_per_stored_token=%.1f raw_fp16=%.0f padding_waste=%.4f decoded_cells=%.0f accuracy=%.3f "
            + "ratio_wall=%.3f ratio_cpu=%.3f%n",
        harvest.tokensPerSecond, harvest.tokensPerCpuSecond, rounds, nCells, stats.get("bytes_per_stored_token"),
        stats.get("raw_fp16_bytes_per_stored_token"), stats.get("padding_waste"), stats.get("decoded_cells"),
        stats.getOrDefault("accuracy", Double.NaN), harvest.tokensPerSecond / bareWall,
        harvest.tokensPerCpuSecond / bareCpu);
    // The reference is the better of the two ways of running the bare forward.
    System.out.printf(Locale.ROOT, "RESULT tokens_per_s=%.1f ratio=%.3f bytes_ratio=%.3f%n", harvest.tokensPerSecond,
        harvest.tokensPerCpuSecond / bareCpu, bytesRatio);
  }

  /** Wall and process CPU time at one instant. */
  private record Clock(long wallNanos, long cpuNanos) {
    static Clock now() {
      var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
          .getOperatingSystemMXBean();
      return new Clock(System.nanoTime(), os.getProcessCpuTime());
    }
  }

  /** The best throughputs of one side over the rounds. */
  private static final class Best {
    double tokensPerSecond;
    double tokensPerCpuSecond;

    /** Records a run that started at {@code from} and ends now; returns it as text. */
    String add(long tokens, Clock from) {
      Clock to = Clock.now();
      double wall = tokens / ((to.wallNanos() - from.wallNanos()) / 1e9);
      double cpu = tokens / ((to.cpuNanos() - from.cpuNanos()) / 1e9);
      tokensPerSecond = Math.max(tokensPerSecond, wall);
      tokensPerCpuSecond = Math.max(tokensPerCpuSecond, cpu);
      return String.format(Locale.ROOT, "%.1f tokens/s, %.1f tokens/cpu-s", wall, cpu);
    }
  }

  /** Seconds to run the batches on {@code workers} threads, each with one intra-op thread. */
  private static double parallelForward(GptNeoX model, List<TokenBatch> batches, ForwardOptions options, int workers)
      throws Exception {
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(workers);
    try {
      java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
      long t0 = System.nanoTime();
      List<java.util.concurrent.Future<?>> running = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        running.add(pool.submit(() -> {
          JniUtils.setNumThreads(1);
          for (int i = next.getAndIncrement(); i < batches.size(); i = next.getAndIncrement()) {
            try (ActivationCache cache = model.run(model.manager(), batches.get(i), options)) {
              cache.get(HookNames.mlpOut(0)).getFloat(0, 0, 0);
            }
          }
        }));
      }
      for (var f : running) {
        f.get();
      }
      return (System.nanoTime() - t0) / 1e9;
    } finally {
      pool.shutdown();
    }
  }
}
