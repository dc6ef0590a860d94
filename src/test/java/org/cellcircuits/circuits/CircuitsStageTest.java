package org.cellcircuits.circuits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.evaluate.EvaluateFixtures;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.Fp32Bounds;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.runtime.ExecutorTranscoders;
import org.cellcircuits.sentences.CellSplit;
import org.cellcircuits.transcoder.Transcoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The circuits stage on a tiny model with random transcoders: what it commits, that a cell's rows are what the
 * extractor gives in this JVM, the circuit-tracer exports, the summary, a skipped rerun, and a failure that names its
 * cell and leaves nothing committed.
 */
class CircuitsStageTest {
  @TempDir static Path shared;
  private static SparkSession spark;
  private static Path model;
  private static final String[] SETTINGS = {"split.held-out-fraction=0.3", "circuits.cells-per-type=2",
      "circuits.cells-per-task=2", "circuits.max-feature-nodes=20", "circuits.batch-size=8",
      "circuits.ablation-features=3", "harvest.cells-per-task=20"};

  @BeforeAll
  static void start() throws Exception {
    spark = SparkSession.builder().master("local[2]").appName("CircuitsStageTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    model = EvaluateFixtures.model(shared.resolve("model"), 7);
  }

  @AfterAll
  static void stop() {
    spark.stop();
    ExecutorModels.clear();
    ExecutorTranscoders.clear();
  }

  private static Configuration hadoop() {
    return spark.sparkContext().hadoopConfiguration();
  }

  private static StageOutcome run(Config config, String stage) throws Exception {
    return EvaluateFixtures.runStage(spark, config, stage);
  }

  /** Sentences, harvest (for its predictions) and a train stage of random transcoders, committed under root. */
  private static SortedMap<Integer, Transcoder> upstream(RunRoot root, Config config, List<CellPrompt> cells)
      throws Exception {
    return EvaluateFixtures.commitUpstream(spark, root, config, cells, 3, 48);
  }

  @Test
  void commitsAGraphPerChosenCellEqualToAnInProcessExtraction() throws Exception {
    Path rootDir = shared.resolve("run");
    RunRoot root = RunRoot.of(rootDir.toString(), hadoop());
    List<CellPrompt> cells = EvaluateFixtures.cells(40, 9);
    Path markers = shared.resolve("markers.tsv");
    Files.writeString(markers, "cell_type\tgene\tweight\nendothelial cell\tVWF\t1\n");
    Config config = EvaluateFixtures.config(root.uri(), model,
        Stream.concat(Stream.of(SETTINGS), Stream.of("circuits.markers-path=" + markers)).toArray(String[]::new));
    SortedMap<Integer, Transcoder> tcs = upstream(root, config, cells);

    StageOutcome outcome = run(config, "circuits");
    assertThat(outcome.status()).isEqualTo(StageOutcome.Status.COMMITTED);

    // the chosen cells: 2 held-out cells per annotated type (fewer where a type has fewer)
    CellSplit split = new CellSplit(0.3, 42);
    Map<String, Long> heldOutPerType = cells.stream().filter(c -> split.isHeldOut(c.cellId()))
        .collect(Collectors.groupingBy(CellPrompt::cellType, Collectors.counting()));
    long expected = heldOutPerType.values().stream().mapToLong(n -> Math.min(2, n)).sum();
    List<Row> graphs = spark.read().parquet(root.committedPath("circuits", "circuits/graphs").toString())
        .collectAsList();
    assertThat(graphs).hasSize((int) expected);
    assertThat(outcome.marker().rowCounts()).containsEntry("circuits/graphs", expected)
        .containsEntry("circuits/export", (long) heldOutPerType.size());
    assertThat(outcome.marker().stats()).containsEntry("cells", (double) expected).containsKey("causal_agreement")
        .containsKey("mean_replacement_score");
    for (Row g : graphs) {
      assertThat(split.isHeldOut(g.getAs("cell_id"))).isTrue();
      assertThat((double) g.getAs("replacement_score")).isBetween(0.0, 1.0);
      assertThat((double) g.getAs("completeness_score")).isBetween(0.0, 1.0);
      assertThat((int) g.getAs("rows_computed")).isLessThanOrEqualTo(21);
    }

    // every kept edge joins two kept nodes of its cell; each cell keeps its target
    Map<String, Set<String>> nodesByCell = new HashMap<>();
    for (Row n : spark.read().parquet(root.committedPath("circuits", "circuits/nodes").toString()).collectAsList()) {
      nodesByCell.computeIfAbsent(n.getAs("cell_id"), k -> new HashSet<>()).add(n.getAs("node_id"));
    }
    assertThat(nodesByCell).hasSize((int) expected).allSatisfy((cell, ids) -> assertThat(ids).contains("TARGET"));
    List<Row> edges = spark.read().parquet(root.committedPath("circuits", "circuits/edges").toString())
        .collectAsList();
    assertThat(edges).isNotEmpty().allSatisfy(e -> assertThat(nodesByCell.get((String) e.getAs("cell_id")))
        .contains(e.getAs("source"), e.getAs("target")));

    // one cell again, in this JVM, with the stage's settings: the same figures
    Row first = graphs.stream().min((a, b) -> ((String) a.getAs("cell_id")).compareTo(b.getAs("cell_id")))
        .orElseThrow();
    CellPrompt cell = cells.stream().filter(c -> c.cellId().equals(first.getAs("cell_id"))).findFirst().orElseThrow();
    CircuitParams params = CircuitParams.fromConfig(config);
    ExecutorModels.Loaded loaded = ExecutorModels.get(model.toString(), "cpu", "fp32", 1, new Configuration());
    try (ReplacementWeights w = new ReplacementWeights(loaded.model(), tcs)) {
      CellCircuit c = new CircuitExtractor(loaded.model(), w, params.settings(), params.randomSeed())
          .extract(cell.cellId(), cell.cellType(), cell.tokenize(loaded.prompts()),
              logits -> OutputTarget.logit(OutputTarget.argmax(logits), "argmax"));
      // The stage's task and this thread run the same code on the same single-cell shapes with one libtorch thread
      // each (the task's spark.task.cpus, and 1 here), so the same float operations in the same order: the same
      // graph. The logit is held to Fp32Bounds.deep over the forward's chain anyway, which holds in any order; the
      // pruned counts and the score are discrete or not bounded usefully by a worst-case analysis (a few ulps on
      // thousands of edges sum to a useless bound), so they rest on that sameness and are compared exactly.
      // Measured: every difference 0, at 1 and 2 libtorch threads (-Dtest.torch.threads; the tasks pin theirs).
      long[] ids = cell.tokenize(loaded.prompts()).ids();
      double logitBound;
      try (ai.djl.ndarray.NDManager m = loaded.model().manager().newSubManager();
          org.cellcircuits.model.ActivationCache logits = loaded.model().run(m,
          org.cellcircuits.model.TokenBatch.rightPadded(List.of(ids), 0),
          org.cellcircuits.model.ForwardOptions.logitsOnly().withLogits(org.cellcircuits.model.LogitsMode.LAST))) {
        logitBound = Fp32Bounds.deep(Fp32Bounds.forwardChain(loaded.model().config(), ids.length),
            Fp32Bounds.maxAbs(logits.logits().toFloatArray()));
      }
      assertThat((long) first.getAs("target_token")).isEqualTo(c.target().token());
      assertThat((double) first.getAs("logit")).isCloseTo(c.graph().targetValue(),
          org.assertj.core.data.Offset.offset(logitBound));
      assertThat((int) first.getAs("nodes")).isEqualTo(c.pruned().keptNodeCount());
      assertThat((long) first.getAs("edges")).isEqualTo(c.pruned().keptEdgeCount());
      assertThat((double) first.getAs("replacement_score")).isEqualTo(c.scores().replacement());
      assertThat(nodesByCell.get(cell.cellId())).hasSize(c.pruned().keptNodeCount());
    }

    // circuit-tracer JSON: one export per type, each as graph_models.py declares it
    Path exportDir = Path.of(root.committedPath("circuits", "circuits/export").toUri());
    List<Path> exports;
    try (Stream<Path> s = Files.list(exportDir)) {
      exports = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
    }
    assertThat(exports).hasSize(heldOutPerType.size());
    for (Path e : exports) {
      assertThat(CircuitTracerJsonTest.schemaErrors(Files.readString(e, StandardCharsets.UTF_8))).as("%s", e)
          .isEmpty();
    }
    if (Files.isExecutable(CircuitTracerJsonTest.PYTHON)) {
      assertThat(CircuitTracerJsonTest.runPython(exports.get(0))).startsWith("OK");
    }

    // summary: genes ranked 1..n per type, never in more cells than the type has
    List<Row> summary = spark.read().parquet(root.committedPath("circuits", "circuits/summary").toString())
        .filter("kind = 'gene'").collectAsList();
    assertThat(summary).isNotEmpty().allSatisfy(r -> assertThat((long) r.getAs("cells"))
        .isLessThanOrEqualTo((long) r.getAs("cells_of_type")));
    Map<String, List<Integer>> ranks = new HashMap<>();
    summary.forEach(r -> ranks.computeIfAbsent(r.getAs("cell_type"), k -> new java.util.ArrayList<>())
        .add(r.getAs("rank")));
    ranks.forEach((type, r) -> assertThat(r.stream().sorted().toList())
        .isEqualTo(java.util.stream.IntStream.rangeClosed(1, r.size()).boxed().toList()));

    // a rerun with the same config and inputs is skipped
    assertThat(run(config, "circuits").status()).isEqualTo(StageOutcome.Status.SKIPPED);
    tcs.values().forEach(Transcoder::close);
  }

  @Test
  void aPromptLongerThanMaxTokensFailsNamingItsCellAndCommitsNothing() throws Exception {
    RunRoot root = RunRoot.of(shared.resolve("too-long").toString(), hadoop());
    Config config = EvaluateFixtures.config(root.uri(), model,
        Stream.concat(Stream.of(SETTINGS), Stream.of("circuits.max-tokens=5")).toArray(String[]::new));
    SortedMap<Integer, Transcoder> tcs = upstream(root, config, EvaluateFixtures.cells(20, 3));
    assertThatThrownBy(() -> run(config, "circuits")).rootCause().hasMessageContaining("circuits.max-tokens is 5")
        .hasMessageMatching("(?s)cell \\S+ has a prompt of \\d+ tokens.*");
    assertThat(root.committed("circuits")).isEmpty();
    tcs.values().forEach(Transcoder::close);
  }
}
