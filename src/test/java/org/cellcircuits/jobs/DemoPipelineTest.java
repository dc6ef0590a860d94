package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.io.RunRoot;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The README's first command on a subset: the demo config (shipped atlas, shipped model) through every stage built
 * so far, by the same command line a user runs. Each issue adds what its stage must show on the demo.
 */
@Tag("e2e")
class DemoPipelineTest {
  /** Markers planted in the simulated atlas (demo/markers.tsv) that a cell of the type must carry in its top genes. */
  private static final Map<String, Set<String>> PLANTED = Map.of(
      "endothelial cell", Set.of("VWF", "PECAM1", "CDH5", "PTPRB"),
      "ventricular cardiomyocyte", Set.of("MYH7", "MYL2", "TTN", "RYR2"),
      "fibroblast", Set.of("DCN", "COL1A2", "LUM"));

  private static final int CELLS = 2400;
  private static SparkSession spark;
  @TempDir static Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("DemoPipelineTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void theDemoRunsEndToEndAndTheModelNamesTheCellTypes() throws Exception {
    String root = tmp.resolve("demo").toString();
    StringWriter err = new StringWriter();
    CommandLine cli = CellCircuits.commandLine(StageRegistry.defaults(), ConfigLoader.reference(), s -> spark, false);
    cli.setOut(new PrintWriter(new StringWriter(), true));
    cli.setErr(new PrintWriter(err, true));
    // 2,400 of the 6,000 cells: ~450k training tokens per layer, so the demo's 1M-token transcoders take 3 epochs.
    int code = cli.execute("run", "--until", "interpret", "--config", "conf/demo.conf", "--root", root,
        "--set", "sentences.max-cells=" + CELLS, "--set", "sentences.rows-per-partition=600",
        "--set", "harvest.cells-per-task=300", "--set", "train.max-epochs=3", "--set", "evaluate.max-cells=120",
        "--set", "circuits.cells-per-type=3", "--set", "interpret.validation.cells-per-type=3");
    assertThat(code).as(err.toString()).isZero();
    RunRoot run = RunRoot.of(root, spark.sparkContext().hadoopConfiguration());

    // sentences: one row per cell, each cell type's planted markers among its top genes.
    List<Row> sentences = spark.read().parquet(run.committedPath("sentences", "sentences").toString())
        .select("cell_id", "cell_type", "genes").collectAsList();
    assertThat(sentences).hasSize(CELLS);
    Map<String, int[]> withMarker = new HashMap<>();
    for (Row r : sentences) {
      Set<String> markers = PLANTED.get(r.getString(1));
      if (markers != null) {
        List<String> genes = r.getList(2);
        int[] counts = withMarker.computeIfAbsent(r.getString(1), k -> new int[2]);
        counts[0] += genes.stream().anyMatch(markers::contains) ? 1 : 0;
        counts[1]++;
      }
    }
    assertThat(withMarker).hasSize(PLANTED.size());
    withMarker.forEach((type, c) -> assertThat(c[0]).as("%s cells with a planted marker in the top 64", type)
        .isEqualTo(c[1]));

    // harvest: the model names the annotated cell type for >= 90% of cells (the [demo] acceptance), and every
    // layer holds the same tokens.
    List<Row> predictions = spark.read().parquet(run.committedPath("harvest", "predictions").toString())
        .select("cell_type", "predicted_cell_type", "correct").collectAsList();
    assertThat(predictions).hasSize(CELLS);
    long correct = predictions.stream().filter(r -> r.getBoolean(2)).count();
    assertThat(correct / (double) CELLS).as("share of demo cells whose predicted type is the annotated one").isGreaterThanOrEqualTo(0.9);
    assertThat(predictions).allSatisfy(r -> assertThat(r.getBoolean(2)).isEqualTo(r.getString(0).equals(r.getString(1))));
    var harvest = run.requireCommitted("harvest");
    long layer0 = harvest.rowCounts().get("activations/layer=0");
    assertThat(layer0).isGreaterThan(CELLS * 64L);
    for (int l = 1; l < 4; l++) {
      assertThat(harvest.rowCounts()).containsEntry("activations/layer=" + l, layer0);
    }
    assertThat(harvest.stats().get("accuracy")).isEqualTo(correct / (double) CELLS);

    // train: a transcoder per layer that explains >= 80% of its MLP's output variance (the [train] acceptance; the
    // figure here is the mean over the last training batches, evaluate measures it on held-out cells).
    var train = run.requireCommitted("train");
    for (int l = 0; l < 4; l++) {
      assertThat(train.rowCounts()).containsKey("transcoders/layer=" + l);
      assertThat(train.stats().get("explained_variance_layer_" + l)).as("layer %d EV while training", l)
          .isGreaterThanOrEqualTo(0.8);
      assertThat(train.stats().get("l0_layer_" + l)).as("layer %d L0 of 1,024 features", l).isLessThan(400);
    }

    // evaluate, on held-out cells the transcoders never saw: each still explains >= 80% of its MLP's variance, and
    // the model with every MLP replaced is much closer to the original than to the model without MLPs.
    Map<String, Double> eval = run.requireCommitted("evaluate").stats();
    double original = eval.get("answer_loss_original");
    double replaced = eval.get("answer_loss_replaced_all");
    double zero = eval.get("answer_loss_zero_mlp");
    System.out.printf("demo answer loss: original %.4f, all MLPs replaced %.4f, MLPs zeroed %.4f%n", original,
        replaced, zero);
    assertThat(eval.get("cells")).isEqualTo(120.0);
    assertThat(replaced).as("replaced-model answer loss, against the midpoint of original and zeroed")
        .isLessThan((original + zero) / 2);
    for (int l = 0; l < 4; l++) {
      assertThat(eval.get("explained_variance_layer_" + l)).as("layer %d EV on held-out cells", l)
          .isGreaterThanOrEqualTo(0.8);
    }
    assertThat(eval.get("accuracy_replaced_all")).as("accuracy with every MLP replaced").isGreaterThanOrEqualTo(0.8);

    // circuits, the paper's case study for every cell type: >= 3 of a type's planted markers (demo/markers.tsv) among
    // the top 10 input genes of its circuit summary, and zeroing a cell's 10 most attributed features lowers the
    // target more than zeroing 10 random active ones in >= 90% of cells.
    var circuits = run.requireCommitted("circuits");
    Map<String, Double> stats = circuits.stats();
    System.out.printf("demo circuits: %.0f cells, causal agreement %.3f, replacement %.3f, %.0f types with >= 3 "
        + "markers%n", stats.get("cells"), stats.get("causal_agreement"), stats.get("mean_replacement_score"),
        stats.get("types_with_3_markers_in_top_genes"));
    assertThat(stats.get("cell_types")).isEqualTo(12.0);
    for (Map.Entry<String, Double> e : stats.entrySet()) {
      if (e.getKey().startsWith("markers_in_top_genes/")) {
        assertThat(e.getValue()).as(e.getKey()).isGreaterThanOrEqualTo(3.0);
      }
    }
    assertThat(stats.get("types_with_3_markers_in_top_genes")).isEqualTo(12.0);
    assertThat(stats.get("causal_agreement")).as("share of cells where the circuit's features matter more than random")
        .isGreaterThanOrEqualTo(0.9);

    // interpret: every feature of the 4 x 1,024 read off the harvest and labelled; the knockout check of the circuits
    // above; the HTML report, opened in a real browser.
    var interpret = run.requireCommitted("interpret");
    Map<String, Double> is = interpret.stats();
    System.out.printf("demo interpret: %.0f live features, %.1f%% gene-level; %.0f of %.0f types with a gene-level "
        + "feature for a marker; median rho gene knockout %.2f, feature zeroed %.2f%n", is.get("live_features"),
        100 * is.get("gene_level_share"), is.get("marker_types_with_gene_level_feature"), is.get("marker_types"),
        is.get("validation_gene_median_spearman"), is.get("validation_feature_median_spearman"));
    assertThat(interpret.rowCounts()).containsEntry("features", 4096L).containsKeys("validation/knockouts",
        "validation/summary", "report");
    assertThat(is.get("marker_types")).isEqualTo(12.0);
    // up to 3 of each type's traced cells: all the circuits stage traced, since it traced up to 3 a type
    double checked = is.get("validation_cells");
    assertThat(checked).isEqualTo(stats.get("cells"));
    // each with its top 5 genes and 5 features (fewer only where its circuit keeps fewer)
    assertThat(interpret.rowCounts().get("validation/knockouts")).isBetween((long) checked * 5, (long) checked * 10);
    // the [interpret] acceptance: attribution ranks the knockouts' effects (median over types 0.57 on this subset,
    // 0.39 on the whole demo with 12 of 12 types positive)
    assertThat(is.get("validation_gene_median_spearman")).as("median rho, attribution vs gene knockout effect")
        .isPositive();
    assertThat(new InterpretStage().report(interpret, run)).contains("median Spearman rho", "HTML report (",
        "cell types with a gene-level feature");
    Path report = Path.of(java.net.URI.create(run.committedPath("interpret", "report") + "/index.html")).getParent();
    Path shots = Path.of("target", "demo-report");
    java.nio.file.Files.createDirectories(shots);
    try (org.cellcircuits.report.HeadlessChromium chromium = org.cellcircuits.report.HeadlessChromium.start()) {
      var index = chromium.open(report.resolve("index.html"), shots.resolve("index.png"));
      assertThat(index.errors()).as("console errors on the index").isEmpty();
      assertThat(index.text()).contains("endothelial cell");
      var endothelial = chromium.open(report.resolve("celltypes/endothelial-cell.html"),
          shots.resolve("endothelial-cell.png"));
      assertThat(endothelial.errors()).as("console errors on the endothelial page").isEmpty();
      assertThat(endothelial.canvases() + endothelial.svgs()).as("the circuit is drawn").isPositive();
      assertThat(endothelial.text()).as("the endothelial circuit names a planted marker")
          .containsAnyOf("VWF", "PECAM1");
    }

    // the analyst notebook's queries (notebooks/queries/*.sql) on the demo's tables, as the notebook runs them
    Map<String, List<Row>> answers = NotebookQueries.checkDemo(spark, run);
    assertThat(answers).containsKeys("features_driving_cell_type", "validation_summary", "faithfulness_by_layer");

    // [mllib]: the Spark ML stages, given the committed tables as a notebook would, give the CLI stages' rows
    int examples = org.cellcircuits.ml.DemoMlChecks.transcoderModelGivesInterpretsTopExamples(spark, run, 1);
    int traced = org.cellcircuits.ml.DemoMlChecks.circuitTransformerGivesTheStagesRows(spark, run, "demo/model", 3);
    System.out.printf("demo mllib: TranscoderModel matches interpret at %d top examples of layer 1; CircuitTransformer "
        + "gives the circuits stage's rows for %d cells%n", examples, traced);
    // ... and the Spark ML notebook runs as it is, in Spark's REPL, on this run
    String notebook = org.cellcircuits.ml.ScalaNotebook.run(Path.of("notebooks/spark_ml_example.scala"),
        Map.of("cellcircuits.notebook.run-root", root, "cellcircuits.notebook.save-to", tmp.resolve("nb").toString()),
        tmp.resolve("nb-work"), 900, "NOTEBOOK pipeline:", "NOTEBOOK transcoder:", "NOTEBOOK done");
    System.out.println("demo notebook: " + notebook.lines().filter(l -> l.startsWith("NOTEBOOK")).toList());

    // [frontier]: every architecture trains, saves, loads and evaluates on the demo. A short run each (100k tokens a
    // layer, 40 held-out cells) on the harvest above; evaluate loads what train saved, so the layout and the
    // activation it names are what gets scored.
    record Arch(String activation, boolean skip, String saved) {}
    for (Arch a : List.of(new Arch("relu", false, "transcoder"), new Arch("topk", true, "topk_skip_transcoder"),
        new Arch("batchtopk", false, "jumprelu_transcoder"), new Arch("jumprelu", true, "jumprelu_skip_transcoder"))) {
      List<String> sets = List.of("--config", "conf/demo.conf", "--root", root, "--overwrite",
          "--set", "sentences.max-cells=" + CELLS, "--set", "sentences.rows-per-partition=600",
          "--set", "harvest.cells-per-task=300", "--set", "train.activation=" + a.activation(),
          "--set", "train.skip-connection=" + a.skip(), "--set", "train.k=8", "--set", "train.training-tokens=100000",
          "--set", "train.lr-warm-up-steps=10", "--set", "train.lr-decay-steps=40", "--set", "train.l1-warm-up-steps=20",
          "--set", "train.jumprelu-threshold-init=0.3", "--set", "train.jumprelu-bandwidth=0.3",
          // ~100 steps: BatchTopK's running threshold must forget its first steps within the run (the trainer warns
          // below 10 / rate steps); at the default 0.01 it still remembered them and layer 0's EV was -0.87.
          "--set", "train.batchtopk-threshold-rate=0.1",
          "--set", "evaluate.max-cells=40");
      for (String stage : List.of("train", "evaluate")) {
        List<String> args = new java.util.ArrayList<>(List.of(stage));
        args.addAll(sets);
        assertThat(cli.execute(args.toArray(new String[0]))).as("%s with %s: %s", stage, a, err).isZero();
      }
      Path cfg = Path.of(java.net.URI.create(run.committedPath("train", "transcoders/layer=0") + "/cfg.json"));
      assertThat(java.nio.file.Files.readString(cfg)).as("saved layout of %s", a)
          .contains("\"architecture\": \"" + a.saved() + "\"");
      Map<String, Double> e = run.requireCommitted("evaluate").stats();
      assertThat(e.get("answer_loss_replaced_all")).as("%s: replaced answer loss vs MLPs zeroed", a)
          .isLessThan(e.get("answer_loss_zero_mlp"));
      for (int l = 0; l < 4; l++) {
        assertThat(e.get("explained_variance_layer_" + l)).as("%s layer %d EV on held-out cells", a, l)
            .isGreaterThanOrEqualTo(0.5);
        if (a.activation().equals("topk")) {
          assertThat(e.get("l0_layer_" + l)).as("topk layer %d L0", l).isLessThanOrEqualTo(8.0);
        }
      }
    }
  }
}
