package org.cellcircuits.harvest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.stream.LongStream;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageNotCommittedException;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.jobs.StageRegistry;
import org.cellcircuits.jobs.StageRunner;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.CellTypePredictor;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.Fp32Bounds;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.PredictOptions;
import org.cellcircuits.model.Prediction;
import org.cellcircuits.model.PromptTokenizer;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.model.TokenizedPrompt;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.sentences.CellSplit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harvest stage end to end on a tiny random model (d_model 32, 3 layers) with the demo tokenizer: stored vectors
 * against a direct forward pass of each cell alone, the MLP relation between stored input and output, row counts per
 * token policy, predictions against {@link CellTypePredictor}, crashes and bad inputs.
 */
@Tag("e2e")
class HarvestStageTest {
  private static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    // local[2,2]: two cores and two attempts per task, so a task that fails once is retried as on a cluster.
    spark = SparkSession.builder().master("local[2,2]").appName("HarvestStageTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
    ExecutorModels.clear();
  }

  @AfterEach
  void resetHook() {
    HarvestJob.afterPartitionForTests = tc -> {};
  }

  private RunRoot root() throws Exception {
    return RunRoot.of(tmp.resolve("run").toString(), spark.sparkContext().hadoopConfiguration());
  }

  private StageOutcome harvest(Config config) throws Exception {
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config, settings -> spark, false)) {
      return runner.run("harvest");
    }
  }

  /** One stored row, decoded. */
  record Stored(String cellId, int pos, int tokenId, String gene, Integer rank, float[] in, float[] out) {}

  private List<Stored> stored(int layer) throws Exception {
    String path = root().committedPath("harvest", ActivationSchema.layerTable(layer)).toString();
    List<Stored> out = new ArrayList<>();
    for (Row r : spark.read().parquet(path).collectAsList()) {
      byte[] in = r.getAs("mlp_in");
      byte[] o = r.getAs("mlp_out");
      float[] fin = new float[in.length / 2];
      float[] fout = new float[o.length / 2];
      VectorFormat.FP16.decode(in, 0, fin.length, fin, 0);
      VectorFormat.FP16.decode(o, 0, fout.length, fout, 0);
      out.add(new Stored(r.getAs("cell_id"), r.getAs("pos"), r.getAs("token_id"), r.getAs("gene_symbol"),
          r.getAs("gene_rank"), fin, fout));
    }
    return out;
  }

  @Test
  void storedVectorsAreTheHooksOfADirectForwardOnEachCellAlone() throws Exception {
    Path modelDir = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 3);
    List<CellPrompt> cells = HarvestFixtures.cells(10, 1);
    HarvestFixtures.commitSentences(spark, root(), cells);
    long loadsBefore = ExecutorModels.loads();
    java.util.Set<Integer> threadsSeen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    HarvestJob.afterPartitionForTests = tc -> threadsSeen.add(ai.djl.pytorch.jni.JniUtils.getNumThreads());

    // 4 tasks of <= 3 cells, batches of <= 200 positions: several batches per task, rows of different lengths.
    StageOutcome outcome = harvest(HarvestFixtures.config(root().uri(), modelDir,
        "harvest.cells-per-task=3", "harvest.tokens-per-batch=200"));

    assertThat(ExecutorModels.loads() - loadsBefore).as("model loads for 4 tasks in one executor JVM").isEqualTo(1);
    assertThat(threadsSeen).as("libtorch intra-op threads in each task = spark.task.cpus").containsExactly(1);
    StageMarker marker = outcome.marker();
    int d = HarvestFixtures.TINY.hiddenSize();
    try (GptNeoX model = GptNeoX.load(modelDir, Device.cpu());
        PromptTokenizer tokenizer = PromptTokenizer.load(modelDir);
        NDManager manager = NDManager.newBaseManager(Device.cpu())) {
      long expectedRows = 0;
      Map<Integer, Map<String, List<Stored>>> byLayer = new TreeMap<>();
      for (int layer = 0; layer < 3; layer++) {
        byLayer.put(layer, stored(layer).stream().collect(Collectors.groupingBy(Stored::cellId)));
      }
      double worst = 0;
      for (CellPrompt cell : cells) {
        TokenizedPrompt tp = tokenizer.encode(cell.prompt(), cell.genes());
        expectedRows += tp.length();
        List<String> keep = new ArrayList<>();
        for (int layer = 0; layer < 3; layer++) {
          keep.add(HookNames.mlpIn(layer));
          keep.add(HookNames.mlpOut(layer));
        }
        try (ActivationCache cache = model.run(manager, TokenBatch.rightPadded(List.of(tp.ids()), 0),
            ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE).keeping(keep))) {
          for (int layer = 0; layer < 3; layer++) {
            float[] in = cache.get(HookNames.mlpIn(layer)).toFloatArray(); // (1, T, C)
            float[] out = cache.get(HookNames.mlpOut(layer)).toFloatArray();
            List<Stored> rows = byLayer.get(layer).get(cell.cellId());
            assertThat(rows).as("layer %d cell %s", layer, cell.cellId()).hasSize(tp.length());
            assertThat(rows.stream().map(Stored::pos).collect(Collectors.toSet()))
                .as("every prompt position once").hasSize(tp.length());
            for (Stored s : rows) {
              assertThat(s.tokenId()).isEqualTo(tp.id(s.pos()));
              assertThat(s.gene()).isEqualTo(tp.gene(s.pos()));
              assertThat(s.rank()).isEqualTo(tp.rank(s.pos()) < 0 ? null : tp.rank(s.pos()));
              for (int k = 0; k < d; k++) {
                worst = Math.max(worst, checkHalf(s.in()[k], in[s.pos() * d + k], "mlp_in", cell, layer, s.pos(), k));
                worst = Math.max(worst, checkHalf(s.out()[k], out[s.pos() * d + k], "mlp_out", cell, layer, s.pos(), k));
              }
            }
          }
        }
      }
      assertThat(worst).as("largest error in units of the fp16 half-ulp bound").isGreaterThan(0).isLessThanOrEqualTo(1);
      for (int layer = 0; layer < 3; layer++) {
        assertThat(marker.rowCounts().get(ActivationSchema.layerTable(layer))).isEqualTo(expectedRows);
      }
      assertThat(marker.rowCounts().get("predictions")).isEqualTo(10L);
      assertThat(marker.stats().get("d_model")).isEqualTo(32.0);
      assertThat(marker.stats().get("stored_tokens_per_layer")).isEqualTo((double) expectedRows);
      assertThat(marker.stats().get("padding_waste")).isBetween(0.0, 0.5);
      // Bytes of the Parquet files on disk over the rows they hold. (Below the raw 2 x 64 bytes here: in a parallel
      // residual model layer 0's MLP reads ln2(embedding), identical for every occurrence of a token, and zstd
      // finds the repeats.)
      long bytes = 0;
      for (int layer = 0; layer < 3; layer++) {
        Path dir = Path.of(java.net.URI.create(
            root().committedPath("harvest", ActivationSchema.layerTable(layer)).toString()));
        try (var files = Files.list(dir)) {
          bytes += files.filter(f -> f.toString().endsWith(".parquet")).mapToLong(f -> f.toFile().length()).sum();
        }
      }
      assertThat(marker.stats().get("bytes_per_stored_token")).isCloseTo((double) bytes / (3 * expectedRows),
          org.assertj.core.data.Offset.offset(1e-6));
    }
  }

  /**
   * A stored fp16 value against the fp32 reference: the error of rounding to fp16 (half an fp16 ulp, 2^-11 relative
   * for normals, 2^-25 absolute for subnormals) plus the fp32 difference between a batched and an unbatched forward
   * (1e-5 relative). Returns the error as a share of that bound.
   */
  private static double checkHalf(float stored, float reference, String what, CellPrompt cell, int layer, int pos,
      int k) {
    double bound = Math.abs(reference) * (0x1p-11 + 1e-5) + 0x1p-25 + 1e-7;
    double error = Math.abs(stored - reference);
    assertThat(error).as("%s of cell %s layer %d pos %d dim %d: stored %s, forward %s", what, cell.cellId(), layer,
        pos, k, stored, reference).isLessThanOrEqualTo(bound);
    return error / bound;
  }

  @Test
  void storedMlpOutIsTheModelsOwnMlpAppliedToStoredMlpIn() throws Exception {
    Path modelDir = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 4);
    HarvestFixtures.commitSentences(spark, root(), HarvestFixtures.cells(6, 2));
    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.tokens=genes"));
    int d = HarvestFixtures.TINY.hiddenSize();
    try (GptNeoX model = GptNeoX.load(modelDir, Device.cpu());
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      for (int layer = 0; layer < 3; layer++) {
        List<Stored> rows = stored(layer);
        int n = rows.size();
        float[] in = new float[n * d];
        float[] out = new float[n * d];
        for (int i = 0; i < n; i++) {
          System.arraycopy(rows.get(i).in(), 0, in, i * d, d);
          System.arraycopy(rows.get(i).out(), 0, out, i * d, d);
        }
        NDArray x = m.create(in, new Shape(n, d));
        float[] own = mlp(model, layer, x).toFloatArray();
        float[] bound = propagationBound(model, layer, x).toFloatArray();
        double worst = 0;
        for (int i = 0; i < n * d; i++) {
          // stored mlp_in = fp16(x) with |fp16(x) - x| <= 2^-11 |x|, so |MLP(fp16(x)) - MLP(x)| <= the propagated
          // bound (|W_out| max|gelu'| |W_in| 2^-11 |x|); stored mlp_out = fp16(MLP(x)) adds half an fp16 ulp.
          double tolerance = bound[i] + Math.abs(own[i]) * 0x1p-10 + 1e-6;
          double error = Math.abs(out[i] - own[i]);
          assertThat(error).as("layer %d row %d dim %d", layer, i / d, i % d).isLessThanOrEqualTo(tolerance);
          worst = Math.max(worst, error / tolerance);
        }
        assertThat(worst).isGreaterThan(0);
        // The check can fail: the next layer's MLP applied to the same inputs is far outside the tolerance.
        float[] other = mlp(model, (layer + 1) % 3, x).toFloatArray();
        int outside = 0;
        for (int i = 0; i < n * d; i++) {
          outside += Math.abs(out[i] - other[i]) > bound[i] + Math.abs(other[i]) * 0x1p-10 + 1e-6 ? 1 : 0;
        }
        assertThat(outside).as("entries where another layer's MLP misses").isGreaterThan(n * d / 2);
      }
    }
  }

  /** gelu(x W_in^T + b_in) W_out^T + b_out with the checkpoint's weights of one layer. */
  private static NDArray mlp(GptNeoX model, int layer, NDArray x) {
    String p = "gpt_neox.layers." + layer + ".mlp.";
    Map<String, NDArray> w = model.parameters();
    NDArray h = Activation.gelu(x.matMul(w.get(p + "dense_h_to_4h.weight").transpose()).add(w.get(p + "dense_h_to_4h.bias")));
    return h.matMul(w.get(p + "dense_4h_to_h.weight").transpose()).add(w.get(p + "dense_4h_to_h.bias"));
  }

  /** |W_out| · 1.13 · |W_in| · (2^-11 |x|): how far fp16 rounding of the input can move the MLP output. */
  private static NDArray propagationBound(GptNeoX model, int layer, NDArray x) {
    String p = "gpt_neox.layers." + layer + ".mlp.";
    Map<String, NDArray> w = model.parameters();
    NDArray dx = x.abs().mul(0x1p-11 * (1 + 0x1p-11));
    // max |gelu'(z)| = 1.1289 (at z = sqrt(2)).
    return dx.matMul(w.get(p + "dense_h_to_4h.weight").abs().transpose()).mul(1.129)
        .matMul(w.get(p + "dense_4h_to_h.weight").abs().transpose());
  }

  @Test
  void rowCountsAreTheSampledTokensOfEachPolicyAndTheFractionIsSeededPerCell() throws Exception {
    Path modelDir = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 5);
    List<CellPrompt> cells = HarvestFixtures.cells(12, 3);
    HarvestFixtures.commitSentences(spark, root(), cells);
    long all = 0;
    long genes = 0;
    try (PromptTokenizer tokenizer = PromptTokenizer.load(modelDir)) {
      for (CellPrompt c : cells) {
        TokenizedPrompt tp = tokenizer.encode(c.prompt(), c.genes());
        all += tp.length(); // the demo tokenizer adds no special tokens
        genes += tp.genes().stream().mapToInt(g -> g.tokenCount()).sum(); // it splits at spaces: spans are exclusive
      }
    }
    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[1]"));
    assertThat(stored(1)).hasSize((int) all);
    assertThat(stored(1).stream().filter(s -> s.gene() == null).count()).isGreaterThan(0);

    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[1]", "harvest.tokens=genes",
        "run.overwrite=true"));
    List<Stored> geneRows = stored(1);
    assertThat(geneRows).hasSize((int) genes);
    assertThat(geneRows).allSatisfy(s -> assertThat(s.gene()).isNotNull());
    assertThat(root().requireCommitted("harvest").rowCounts()).containsOnlyKeys("activations/layer=1", "predictions");

    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[1]", "harvest.tokens=fraction",
        "harvest.token-fraction=0.3", "harvest.token-seed=7", "harvest.cells-per-task=2", "run.overwrite=true"));
    Set<String> fraction = keys(stored(1));
    // Binomial(all, 0.3): 5 standard deviations either side.
    double sd = Math.sqrt(all * 0.3 * 0.7);
    assertThat((double) fraction.size()).isBetween(0.3 * all - 5 * sd, 0.3 * all + 5 * sd);
    assertThat(root().requireCommitted("harvest").stats().get("stored_tokens_per_layer"))
        .isEqualTo((double) fraction.size());

    // Other tasks, batches and partitioning: the same tokens, since the draw depends only on seed and cell.
    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[1]", "harvest.tokens=fraction",
        "harvest.token-fraction=0.3", "harvest.token-seed=7", "harvest.cells-per-task=100",
        "harvest.tokens-per-batch=64", "run.overwrite=true"));
    assertThat(keys(stored(1))).isEqualTo(fraction);
    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[1]", "harvest.tokens=fraction",
        "harvest.token-fraction=0.3", "harvest.token-seed=8", "run.overwrite=true"));
    assertThat(keys(stored(1))).isNotEqualTo(fraction);
  }

  private static Set<String> keys(List<Stored> rows) {
    Set<String> keys = new HashSet<>();
    for (Stored s : rows) {
      assertThat(keys.add(s.cellId() + "#" + s.pos())).as("duplicate row %s#%d", s.cellId(), s.pos()).isTrue();
    }
    return keys;
  }

  /**
   * A model that continues every prompt ending in ':' with " mast cell.": attention and MLP outputs zeroed, so the
   * final hidden state is LayerNorm(embedding of the current token), and the unembedding row of each next token is
   * the normalized embedding of the token before it (a bigram table). Its MLP outputs are zero, which this test does
   * not read.
   */
  /** The largest |logit| over every position of one unbatched sequence. */
  private static double maxAbsLogit(GptNeoX model, long[] ids) {
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        ActivationCache c = model.run(m, TokenBatch.rightPadded(List.of(ids), 0), ForwardOptions.logitsOnly())) {
      return Fp32Bounds.maxAbs(c.logits().toFloatArray());
    }
  }

  /**
   * How far two fp32 sums of {@code tokens} log-probs of the same sequence, batched differently, may be apart:
   * tokens * (2 Fp32Bounds.deep(forwardChain(positions), max|logit|) + logSoftmaxOwn(vocab, max|logit|)).
   */
  private static double logProbBound(GptNeoX model, int tokens, int positions, double maxAbsLogit) {
    return tokens * (2 * Fp32Bounds.deep(Fp32Bounds.forwardChain(model.config(), positions), maxAbsLogit)
        + Fp32Bounds.logSoftmaxOwn(model.config().vocabSize(), maxAbsLogit));
  }

  private static Path bigramModel(Path dir, long[] chain) throws Exception {
    return HarvestFixtures.model(dir, HarvestFixtures.TINY, 6, model -> {
      Map<String, NDArray> w = model.parameters();
      for (int l = 0; l < 3; l++) {
        String p = "gpt_neox.layers." + l + ".";
        for (String name : List.of("attention.dense.weight", "attention.dense.bias", "mlp.dense_4h_to_h.weight",
            "mlp.dense_4h_to_h.bias")) {
          w.get(p + name).set(new NDIndex(":"), 0f);
        }
      }
      NDArray embed = w.get("gpt_neox.embed_in.weight");
      NDArray unembed = w.get("embed_out.weight");
      for (int i = 0; i + 1 < chain.length; i++) {
        NDArray e = embed.get(chain[i]);
        NDArray normalized = e.sub(e.mean()).div(e.sub(e.mean()).pow(2).mean().add(1e-5).sqrt());
        unembed.set(new NDIndex(chain[i + 1]), normalized.mul(2f));
      }
    });
  }

  @Test
  void heldOutCellsArePredictedButTheirActivationsAreNotStored() throws Exception {
    Path modelDir = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 5);
    List<CellPrompt> cells = HarvestFixtures.cells(40, 3);
    HarvestFixtures.commitSentences(spark, root(), cells);
    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[0]", "split.held-out-fraction=0.3",
        "split.seed=5", "harvest.cells-per-task=7"));

    CellSplit split = new CellSplit(0.3, 5);
    Set<String> heldOut = cells.stream().map(CellPrompt::cellId).filter(split::isHeldOut)
        .collect(Collectors.toSet());
    assertThat(heldOut).as("a 30%% split of 40 cells holds some out and keeps some").isNotEmpty().hasSizeLessThan(40);
    Set<String> storedCells = stored(0).stream().map(Stored::cellId).collect(Collectors.toSet());
    Set<String> expectedStored = cells.stream().map(CellPrompt::cellId).filter(id -> !heldOut.contains(id))
        .collect(Collectors.toSet());
    assertThat(storedCells).isEqualTo(expectedStored);

    String predictions = root().committedPath("harvest", "predictions").toString();
    Map<String, Boolean> flagged = new TreeMap<>();
    for (Row r : spark.read().parquet(predictions).collectAsList()) {
      flagged.put(r.getAs("cell_id"), r.getAs("held_out"));
    }
    assertThat(flagged).hasSize(40);
    assertThat(flagged.entrySet().stream().filter(Map.Entry::getValue).map(Map.Entry::getKey)
        .collect(Collectors.toSet())).isEqualTo(heldOut);
  }

  @Test
  void predictionsAgreeWithCellTypePredictorOnEveryCell() throws Exception {
    List<CellPrompt> cells = HarvestFixtures.cells(12, 4);
    long[] chain;
    try (PromptTokenizer tok = PromptTokenizer.load(HarvestFixtures.DEMO_TOKENIZER)) {
      long[] prompt = tok.encode(cells.get(0).prompt(), cells.get(0).genes()).ids();
      long[] answer = tok.ids(CellPrompt.answer("mast cell"));
      chain = new long[answer.length + 1];
      chain[0] = prompt[prompt.length - 1];
      System.arraycopy(answer, 0, chain, 1, answer.length);
    }
    assertThat(java.util.Arrays.stream(chain).distinct().count()).as("bigram chain tokens distinct")
        .isEqualTo(chain.length);
    Path modelDir = bigramModel(tmp.resolve("bigram"), chain);
    HarvestFixtures.commitSentences(spark, root(), cells);
    StageOutcome outcome = harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[0]",
        "model.batch-size=5", "harvest.cells-per-task=5"));

    Map<String, Row> predicted = new HashMap<>();
    for (Row r : spark.read().parquet(root().committedPath("harvest", "predictions").toString()).collectAsList()) {
      predicted.put(r.getAs("cell_id"), r);
    }
    assertThat(predicted).hasSize(cells.size());
    long mast = cells.stream().filter(c -> c.cellType().equals("mast cell")).count();
    try (GptNeoX model = GptNeoX.load(modelDir, Device.cpu());
        var hf = CellTypePredictor.loadTokenizer(modelDir)) {
      CellTypePredictor predictor = new CellTypePredictor(model, hf, PredictOptions.defaults());
      List<String> prompts = cells.stream().map(CellPrompt::prompt).toList();
      List<Prediction> reference = predictor.predict(prompts);
      double[] annotated = predictor.answerLogProbs(prompts,
          cells.stream().map(c -> CellPrompt.answer(c.cellType())).toList());
      // The stage's batches (5 cells, padded) against the predictor's: each of an answer's k tokens' logits is a
      // forward pass over at most T positions (the longest prompt + answer) in other summation orders, within
      // Fp32Bounds.deep(forwardChain(T), max|logit|); log-softmax moves by at most twice a logit's change, plus its
      // own rounding (logSoftmaxOwn); k of them summed (CellTypePredictorTest.logProbBound's derivation). Measured at
      // 1 and 2 libtorch threads: predicted 0, annotated 9.5e-7 against at least 4.5e-2 (the bigram
      // model's logits are large) (was 1e-4).
      long[][] predictedSeq = new long[cells.size()][];
      long[][] annotatedSeq = new long[cells.size()][];
      int[] predictedTokens = new int[cells.size()];
      int[] annotatedTokens = new int[cells.size()];
      int positions = 0;
      try (PromptTokenizer tok = PromptTokenizer.load(HarvestFixtures.DEMO_TOKENIZER)) {
        for (int i = 0; i < cells.size(); i++) {
          long[] prompt = tok.encode(cells.get(i).prompt(), cells.get(i).genes()).ids();
          long[] pa = tok.ids(CellPrompt.answer(reference.get(i).answer()));
          long[] aa = tok.ids(CellPrompt.answer(cells.get(i).cellType()));
          predictedSeq[i] = LongStream.concat(LongStream.of(prompt), LongStream.of(pa)).toArray();
          annotatedSeq[i] = LongStream.concat(LongStream.of(prompt), LongStream.of(aa)).toArray();
          predictedTokens[i] = pa.length;
          annotatedTokens[i] = aa.length;
          positions = Math.max(positions, Math.max(predictedSeq[i].length, annotatedSeq[i].length));
        }
      }
      for (int i = 0; i < cells.size(); i++) {
        Row r = predicted.get(cells.get(i).cellId());
        Prediction p = reference.get(i);
        assertThat(p.answer()).isEqualTo("mast cell");
        assertThat((String) r.getAs("predicted_cell_type")).isEqualTo(p.answer());
        double pBound = logProbBound(model, predictedTokens[i], positions, maxAbsLogit(model, predictedSeq[i]));
        double aBound = logProbBound(model, annotatedTokens[i], positions, maxAbsLogit(model, annotatedSeq[i]));
        assertThat((double) r.getAs("predicted_log_prob")).as("cell %d predicted log-prob", i)
            .isCloseTo(p.logProb(), org.assertj.core.data.Offset.offset(pBound));
        assertThat((double) r.getAs("annotated_log_prob")).as("cell %d annotated log-prob", i)
            .isCloseTo(annotated[i], org.assertj.core.data.Offset.offset(aBound));
        assertThat((boolean) r.getAs("correct")).isEqualTo(cells.get(i).cellType().equals("mast cell"));
        assertThat((boolean) r.getAs("answer_complete")).isTrue();
        assertThat((String) r.getAs("cell_type")).isEqualTo(cells.get(i).cellType());
      }
    }
    StageMarker marker = outcome.marker();
    assertThat(marker.stats().get("accuracy")).isEqualTo((double) mast / cells.size());
    // The mast cells are settled by the teacher-forced pass; only the others are decoded.
    assertThat(marker.stats().get("decoded_cells")).isEqualTo((double) (cells.size() - mast));
  }

  @Test
  void aTaskThatCrashesOnceIsRetriedAndLeavesNoDuplicateRows() throws Exception {
    Path modelDir = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 7);
    List<CellPrompt> cells = HarvestFixtures.cells(8, 5);
    HarvestFixtures.commitSentences(spark, root(), cells);
    // Partition 1 fails after writing its files on its first attempt only.
    HarvestJob.afterPartitionForTests = tc -> {
      if (tc.partitionId() == 1 && tc.attemptNumber() == 0) {
        throw new IllegalStateException("simulated crash of partition 1");
      }
    };
    harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.cells-per-task=2", "harvest.layers=[0, 2]"));
    checkExactlyOnce(cells, modelDir);
  }

  @Test
  void aFailedHarvestCommitsNothingAndARerunWritesEveryRowOnce() throws Exception {
    Path modelDir = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 8);
    List<CellPrompt> cells = HarvestFixtures.cells(8, 6);
    HarvestFixtures.commitSentences(spark, root(), cells);
    HarvestJob.afterPartitionForTests = tc -> {
      if (tc.partitionId() == 2) {
        throw new IllegalStateException("simulated crash of partition 2");
      }
    };
    Config config = HarvestFixtures.config(root().uri(), modelDir, "harvest.cells-per-task=2", "harvest.layers=[0, 2]");
    assertThatThrownBy(() -> harvest(config)).hasStackTraceContaining("simulated crash of partition 2");
    assertThat(root().committed("harvest")).isEmpty();
    assertThat(Files.list(tmp.resolve("run/harvest")).map(p -> p.getFileName().toString())
        .filter(n -> !n.startsWith(".")))
        .as("the failed attempt's folder, with the files of the tasks that finished").hasSize(1)
        .allMatch(n -> n.startsWith("attempt-"));

    HarvestJob.afterPartitionForTests = tc -> {};
    harvest(config);
    checkExactlyOnce(cells, modelDir);
    assertThat(Files.list(tmp.resolve("run/harvest")).map(p -> p.getFileName().toString())
        .filter(n -> !n.startsWith(".")).toList())
        .as("the failed attempt is gone").hasSize(2).contains("_COMMITTED.json");
  }

  /** Every prompt token of every cell once in each stored layer, the files are exactly the manifest's. */
  private void checkExactlyOnce(List<CellPrompt> cells, Path modelDir) throws Exception {
    long expected = 0;
    try (PromptTokenizer tokenizer = PromptTokenizer.load(modelDir)) {
      for (CellPrompt c : cells) {
        expected += tokenizer.encode(c.prompt(), c.genes()).length();
      }
    }
    for (int layer : new int[] {0, 2}) {
      Set<String> keys = keys(stored(layer));
      assertThat(keys).hasSize((int) expected);
      Path dir = Path.of(java.net.URI.create(root().committedPath("harvest", ActivationSchema.layerTable(layer)).toString()));
      LayerManifest manifest = LayerManifest.read(new org.apache.hadoop.fs.Path(dir.toUri()),
          spark.sparkContext().hadoopConfiguration());
      Set<String> listed = manifest.files().stream().map(LayerManifest.FileEntry::name).collect(Collectors.toSet());
      Set<String> present;
      try (var files = Files.list(dir)) {
        present = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".parquet"))
            .collect(Collectors.toSet());
      }
      assertThat(present).isEqualTo(listed);
      assertThat(manifest.rows()).isEqualTo(expected);
      // The reader over the committed layer sees the same rows.
      ActivationStore store = ActivationStore.open(root(), layer);
      assertThat(store.rows()).isEqualTo(expected);
      assertThat(ActivationStore.layerInfo(root(), layer))
          .isEqualTo(new ActivationStore.LayerInfo(layer, 32, expected, VectorFormat.FP16));
      long read = 0;
      try (NDManager m = NDManager.newBaseManager(Device.cpu());
          ActivationBatches epoch = store.batches(m, spark.sparkContext().hadoopConfiguration(), 100, 64, 1)) {
        while (epoch.hasNext()) {
          try (ActivationBatch b = epoch.next()) {
            read += b.rows();
          }
        }
      }
      assertThat(read).isEqualTo(expected);
    }
    assertThat(spark.read().parquet(root().committedPath("harvest", "predictions").toString())
        .select("cell_id").distinct().count()).isEqualTo(cells.size());
    assertThat(spark.read().parquet(root().committedPath("harvest", "predictions").toString()).count())
        .isEqualTo(cells.size());
  }

  @Test
  void badInputsFailWithMessagesNamingTheProblem() throws Exception {
    Path modelDir = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 9);
    List<CellPrompt> cells = HarvestFixtures.cells(4, 7);

    // Sentences written but never committed (a crashed or foreign sentences run): not read.
    spark.createDataFrame(HarvestFixtures.rows(cells), HarvestFixtures.SENTENCES).write()
        .parquet(tmp.resolve("run/sentences/attempt-x/sentences").toString());
    assertThatThrownBy(() -> harvest(HarvestFixtures.config(root().uri(), modelDir)))
        .isInstanceOf(StageNotCommittedException.class)
        .hasMessageContaining("stage sentences has no committed output under " + root().uri());

    // A sentences table of another layout: genes as one string.
    StructType otherSchema = new StructType(new StructField[] {
        DataTypes.createStructField("cell_id", DataTypes.StringType, false),
        DataTypes.createStructField("cell_type", DataTypes.StringType, true),
        DataTypes.createStructField("genes", DataTypes.StringType, false),
        DataTypes.createStructField("prompt", DataTypes.StringType, false)});
    List<Row> rows = cells.stream().map(c -> RowFactory.create(c.cellId(), c.cellType(), String.join(" ", c.genes()),
        c.prompt())).toList();
    HarvestFixtures.commitSentences(spark, root(), rows, otherSchema);
    assertThatThrownBy(() -> harvest(HarvestFixtures.config(root().uri(), modelDir)))
        .hasMessageContaining("sentences table " + root().committedPath("sentences", "sentences"))
        .hasMessageContaining("column genes is string; expected array<string>");
    HarvestFixtures.commitSentences(spark, root(), cells);

    // A model whose vocabulary (1,000) does not cover the tokenizer (ids up to 1,999).
    Path small = HarvestFixtures.model(tmp.resolve("small"), new org.cellcircuits.model.NeoXConfig(
        32, 4, 3, 128, 0.25, 10000, true, 1e-5, 1000, 1024, false, true, 0), 1);
    assertThatThrownBy(() -> harvest(HarvestFixtures.config(root().uri(), small)))
        .hasMessageContaining("vocab_size 1000 in config.json does not cover " + small.resolve("tokenizer.json"))
        .hasMessageContaining("token ids go up to 1999");

    // A layer the model does not have.
    assertThatThrownBy(() -> harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[0, 3]")))
        .hasMessage("cellcircuits.harvest.layers names layer 3, but model " + modelDir + " has 3 layers (0..2)");
    assertThatThrownBy(() -> harvest(HarvestFixtures.config(root().uri(), modelDir, "harvest.layers=[-1]")))
        .hasMessage("cellcircuits.harvest.layers holds -1; expected block indices >= 0");

    // No model at all.
    assertThatThrownBy(() -> harvest(org.cellcircuits.jobs.ConfigLoader.load(null, List.of("run.root=" + root().uri()))))
        .hasMessageContaining("cellcircuits.model.path is not set");
    assertThat(root().committed("harvest")).isEmpty();
  }
}
