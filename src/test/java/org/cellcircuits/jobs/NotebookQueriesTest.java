package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.evaluate.EvaluateFixtures;
import org.cellcircuits.evaluate.EvaluateJob;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageCommitter;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.io.StageSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The notebook's queries on a hand-made run root: small tables in the stages' real schemas, committed with the real
 * commit protocol next to the non-Parquet entries the stages also list (text reports, transcoder folders, circuit
 * JSON), registered by {@link RunTables}; every query file runs, and the analyst questions get the answers worked out
 * by hand from the rows below.
 */
class NotebookQueriesTest {
  @TempDir static Path dir;
  private static SparkSession spark;
  private static Map<String, String> views;
  private static RunRoot root;

  /** The validation tables of the interpret stage, in the schemas it writes. */
  static final StructType KNOCKOUTS_SCHEMA = ValidationJob.KNOCKOUTS_SCHEMA;
  static final StructType VALIDATION_SUMMARY_SCHEMA = ValidationJob.SUMMARY_SCHEMA;

  private static final String ENDO = "endothelial cell";
  private static final String FIBRO = "fibroblast";

  @BeforeAll
  static void start() throws Exception {
    spark = SparkSession.builder().master("local[2]").appName("NotebookQueriesTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    root = RunRoot.of(dir.resolve("run").toString(), spark.sparkContext().hadoopConfiguration());
    List<CellPrompt> cells = new ArrayList<>();
    cells.add(new CellPrompt("c1", ENDO, List.of("VWF", "PECAM1", "B2M"), "p"));
    cells.add(new CellPrompt("c2", ENDO, List.of("PECAM1", "VWF"), "p"));
    cells.add(new CellPrompt("c3", FIBRO, List.of("DCN", "LUM", "VWF", "B2M"), "p"));
    cells.add(new CellPrompt("c4", null, List.of("B2M"), "p"));
    EvaluateFixtures.commitSentences(spark, root, cells);

    List<Row> log = new ArrayList<>();
    for (int step = 0; step < 30; step++) {
      // layer 0: ev = step / 100, l0 = 30 - step, dead fraction = step / 1000
      log.add(RowFactory.create(0, (long) step, 64L * (step + 1), 1.0, 0.5, 0.1, 30.0 - step, step / 1000.0,
          step / 100.0, 1e-3, 1.0, 0));
    }
    commit("train", Map.of("train_log", df(log, TrainStage.TRAIN_LOG_SCHEMA)),
        List.of("transcoders/layer=0/cfg.json"));

    commit("evaluate", Map.of(
        EvaluateJob.SUMMARY_TABLE, df(List.of(
            variant("original", null, 1.0, 0.0, 0.9),
            variant("replaced_all", null, 1.5, 0.4, 0.8),
            variant("zero_mlp", null, 3.0, 2.0, 0.2),
            variant("replaced_layer_0", 0, 1.2, 0.1, 0.85),
            variant("replaced_layer_1", 1, 1.1, 0.05, 0.9)), EvaluateJob.SUMMARY_SCHEMA),
        EvaluateJob.LAYERS_TABLE, df(List.of(
            RowFactory.create(0, "transcoder", 8, 0.7, 4.0, 0.25, 100L, 1.2, 2.0, 0.1),
            RowFactory.create(1, "transcoder", 8, 0.9, 3.0, 0.5, 100L, 1.1, 2.0, 0.05)), EvaluateJob.LAYERS_SCHEMA)),
        List.of(EvaluateJob.JSON_FILE));

    commit("circuits", Map.of(
        CircuitsJob.GRAPHS_TABLE, df(List.of(graph("c1", ENDO, 0.9, 1.0, 0.5), graph("c2", ENDO, 0.7, 0.8, 0.9),
            graph("c3", FIBRO, 0.6, 0.9, 0.1)), CircuitsJob.GRAPHS_SCHEMA),
        CircuitsJob.NODES_TABLE, df(List.of(
            node("c1", "E_10_0", "token", null, 0, null, "VWF"), node("c1", "E_11_1", "token", null, 1, null, "PECAM1"),
            node("c1", "1_2_1", "feature", 1, 1, 2, null), node("c1", "L_7", "logit", null, null, null, null)),
            CircuitsJob.NODES_SCHEMA),
        CircuitsJob.EDGES_TABLE, df(List.of(RowFactory.create("c1", "E_10_0", "1_2_1", 0.5),
            RowFactory.create("c1", "E_11_1", "1_2_1", -2.0), RowFactory.create("c1", "1_2_1", "L_7", 1.0),
            RowFactory.create("c2", "E_10_0", "L_7", 9.0)), CircuitsJob.EDGES_SCHEMA),
        CircuitsJob.SUMMARY_TABLE, df(List.of(
            summary(ENDO, "feature", 1, null, 1, 2, 2, 2, 3.0),
            summary(ENDO, "feature", 2, null, 0, 3, 1, 2, 2.0),
            summary(ENDO, "feature", 3, null, 0, 1, 1, 2, 1.0),
            summary(ENDO, "gene", 2, "PECAM1", null, null, 2, 2, 1.5),
            summary(ENDO, "gene", 1, "VWF", null, null, 2, 2, 2.5),
            summary(FIBRO, "feature", 1, null, 0, 3, 1, 1, 4.0),
            summary(FIBRO, "gene", 1, "DCN", null, null, 1, 1, 1.0)), CircuitsJob.SUMMARY_SCHEMA)),
        List.of(CircuitsJob.EXPORT_DIR + "/c1.json", CircuitsJob.TABLE_FILE));

    List<Row> features = new ArrayList<>();
    features.add(feature(0, 0, 0, null, 0.0, "dead", List.of()));
    features.add(feature(0, 1, 5, "B2M", 0.4, "unlabelled", List.of("B2M", "VWF")));
    features.add(feature(0, 2, 7, "DCN", 0.5, "gene:DCN", List.of("DCN")));
    features.add(feature(0, 3, 9, "VWF", 0.9, "gene:VWF", List.of("VWF", "PECAM1", "B2M")));
    features.add(feature(1, 0, 0, null, 0.0, "dead", List.of()));
    features.add(feature(1, 1, 3, "LUM", 0.3, "celltype:fibroblast", List.of("LUM")));
    features.add(feature(1, 2, 4, "PECAM1", 0.6, "gene:PECAM1", List.of("PECAM1", "VWF")));
    commit("interpret", Map.of(
        "features", df(features, InterpretJob.FEATURES_SCHEMA),
        "validation/knockouts", df(List.of(
            knockout("c1", ENDO, "feature", null, 1, 2, 1, 0.8, true),
            knockout("c2", ENDO, "feature", null, 1, 2, 1, 0.4, false),
            knockout("c1", ENDO, "feature", null, 0, 3, 2, 0.2, false),
            knockout("c1", ENDO, "gene", "VWF", null, null, 1, 1.0, true),
            knockout("c3", FIBRO, "gene", "DCN", null, null, 1, 2.0, true)), KNOCKOUTS_SCHEMA),
        "validation/summary", df(List.of(
            RowFactory.create(ENDO, "feature", 2L, 2L, 1.0, 0.5, 0.4),
            RowFactory.create(ENDO, "gene", 1L, 1L, null, 1.0, 1.0),
            RowFactory.create(FIBRO, "gene", 1L, 1L, null, 1.0, 2.0)), VALIDATION_SUMMARY_SCHEMA)),
        List.of(InterpretJob.TABLE_FILE, "report/index.html"));
    views = RunTables.register(spark, root);
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void registersEveryCommittedParquetTableUnderTheNotebooksNames() throws Exception {
    assertThat(views.keySet()).containsExactly("circuits_edges", "circuits_graphs", "circuits_nodes",
        "circuits_summary", "evaluate_evaluation_layers", "evaluate_evaluation_summary", "interpret_features",
        "interpret_validation_knockouts", "interpret_validation_summary", "sentences", "train_log");
    assertThat(views.get("circuits_summary"))
        .isEqualTo(root.committedPath("circuits", CircuitsJob.SUMMARY_TABLE).toString());
    assertThat(spark.table("interpret_features").count()).isEqualTo(7);
    assertThat(spark.table("interpret_features").schema()).isEqualTo(InterpretJob.FEATURES_SCHEMA.asNullable());
  }

  @Test
  void everyQueryFileRunsOnTheFixture() throws Exception {
    Map<String, List<Row>> all = NotebookQueries.runAll(spark, views,
        Map.of("cell_type", ENDO, "layer", 0, "feature", 3, "cell_id", "c1"));
    List<String> files = new ArrayList<>();
    try (var list = Files.list(NotebookQueries.FOLDER)) {
      list.forEach(f -> files.add(f.getFileName().toString().replace(".sql", "")));
    }
    assertThat(all.keySet()).containsExactlyInAnyOrderElementsOf(files);
    all.forEach((name, rows) -> assertThat(rows).as("rows of %s", name).isNotEmpty());
  }

  @Test
  void featuresDrivingACellTypeAreItsCircuitFeaturesWithTheirLabels() throws Exception {
    List<Row> rows = run("features_driving_cell_type", Map.of("cell_type", ENDO, "top", 2));
    assertThat(project(rows, r -> r.getAs("rank") + " " + r.getAs("layer") + "/" + r.getAs("feature") + " "
        + r.getAs("label") + " " + r.getAs("top_genes")))
        .containsExactly("1 1/2 gene:PECAM1 PECAM1 VWF", "2 0/3 gene:VWF VWF PECAM1 B2M");
    assertThat(run("features_driving_cell_type", Map.of("cell_type", "it's not a type"))).isEmpty();
  }

  @Test
  void genesAFeatureReadsAreItsTopGenesInOrderWithTheirExamples() throws Exception {
    List<Row> rows = run("genes_feature_reads", Map.of("layer", 0, "feature", 3));
    // each feature's top examples: one on each of its top genes, plus one more on its top gene
    assertThat(project(rows, r -> r.getAs("place") + " " + r.getAs("gene") + " " + r.getAs("top_examples_on_gene")))
        .containsExactly("1 VWF 2", "2 PECAM1 1", "3 B2M 1");
    assertThat((String) rows.get(0).getAs("label")).isEqualTo("gene:VWF");
  }

  @Test
  void interpretabilityPerLayerCountsLiveFeaturesAtTheThreshold() throws Exception {
    // live: layer 0 features 1-3 (shares 0.4, 0.5, 0.9), layer 1 features 1-2 (0.3, 0.6)
    assertThat(project(run("interpretability_by_layer", Map.of("threshold", 0.5)),
        r -> r.getAs("layer") + " " + r.getAs("live") + " " + r.getAs("gene_level") + " " + r.getAs("gene_level_share")))
        .containsExactly("0 3 2 " + 2 / 3.0, "1 2 1 0.5");
    assertThat(project(run("interpretability_by_layer", Map.of("threshold", 0.3)), r -> r.getAs("gene_level")))
        .containsExactly(3L, 2L);
  }

  @Test
  void faithfulnessComparesEachVariantWithTheOriginalAndTheZeroedMlps() throws Exception {
    Map<String, Row> byVariant = new LinkedHashMap<>();
    run("faithfulness_by_variant", Map.of()).forEach(r -> byVariant.put(r.getAs("variant"), r));
    assertThat(byVariant.keySet())
        .containsExactly("original", "replaced_all", "replaced_layer_0", "replaced_layer_1", "zero_mlp");
    // loss recovered = (3.0 - loss) / (3.0 - 1.0)
    assertThat((double) byVariant.get("replaced_all").getAs("loss_recovered")).isCloseTo(0.75, within(1e-12));
    assertThat((double) byVariant.get("replaced_layer_1").getAs("loss_recovered")).isCloseTo(0.95, within(1e-12));
    assertThat((double) byVariant.get("replaced_all").getAs("answer_loss_increase")).isCloseTo(0.5, within(1e-12));
    assertThat((double) byVariant.get("replaced_all").getAs("accuracy_change")).isCloseTo(-0.1, within(1e-12));
    List<Row> layers = run("faithfulness_by_layer", Map.of());
    assertThat(project(layers, r -> r.getAs("layer"))).containsExactly(0, 1);
    assertThat((double) layers.get(0).getAs("answer_loss_increase")).isCloseTo(0.2, within(1e-12));
    assertThat((double) layers.get(1).getAs("explained_variance")).isEqualTo(0.9);
  }

  @Test
  void circuitQueriesRankGenesAndFindSharedFeatures() throws Exception {
    assertThat(project(run("circuit_input_genes_by_type", Map.of()), r -> r.getAs("cell_type") + ": " + r.getAs("top_genes")))
        .containsExactly("endothelial cell: VWF PECAM1", "fibroblast: DCN");
    // feature 0/3 is in 1 of 2 endothelial cells (share 0.5) and in the one fibroblast
    assertThat(project(run("shared_features", Map.of()), r -> r.getAs("layer") + "/" + r.getAs("feature") + " "
        + r.getAs("types") + " " + r.getAs("cells") + " " + r.getAs("cell_types")))
        .containsExactly("0/3 2 2 endothelial cell, fibroblast");
    assertThat(project(run("cell_circuit_edges", Map.of("cell_id", "c1", "top", 2)),
        r -> r.getAs("source_gene") + " -> " + r.getAs("target") + " " + r.getAs("weight")))
        .containsExactly("PECAM1 -> 1_2_1 -2.0", "null -> L_7 1.0");
    List<Row> faithful = run("circuit_faithfulness_by_type", Map.of());
    assertThat(project(faithful, r -> r.getAs("cell_type") + " " + r.getAs("causal_agreement")))
        .containsExactly("endothelial cell 0.5", "fibroblast 1.0");
    assertThat((double) faithful.get(0).getAs("replacement")).isCloseTo(0.8, within(1e-12));
  }

  @Test
  void validationQueriesAverageKnockoutsPerUnit() throws Exception {
    List<Row> top = run("validation_top_knockouts", Map.of("cell_type", ENDO));
    // VWF: one cell, drop 1.0; feature 1/2: cells c1 and c2, drops 0.8 and 0.4; feature 0/3: one cell, 0.2
    assertThat(project(top, r -> r.getAs("kind") + " " + r.getAs("gene") + " " + r.getAs("layer") + "/"
        + r.getAs("feature") + " " + r.getAs("label") + " " + r.getAs("cells") + " " + r.getAs("changed_share")))
        .containsExactly("gene VWF null/null null 1 1.0", "feature null 1/2 gene:PECAM1 2 0.5",
            "feature null 0/3 gene:VWF 1 0.0");
    assertThat((double) top.get(1).getAs("mean_logprob_drop")).isCloseTo(0.6, within(1e-12));
    assertThat(project(run("validation_summary", Map.of()), r -> r.getAs("kind") + " " + r.getAs("cell_type")))
        .containsExactly("feature endothelial cell", "gene endothelial cell", "gene fibroblast");
  }

  @Test
  void sentenceAndTrainingQueriesCountCellsGenesAndSteps() throws Exception {
    assertThat(project(run("cells_per_type", Map.of()), r -> r.getAs("cell_type") + " " + r.getAs("cells")))
        .containsExactly("endothelial cell 2", "null 1", "fibroblast 1");
    // VWF: rank 0 and 1 in the endothelial cells, rank 2 in the fibroblast, absent from the unannotated cell
    assertThat(project(run("marker_rank_by_type", Map.of("gene", "VWF")),
        r -> r.getAs("cell_type") + " " + r.getAs("mean_rank_when_present") + " " + r.getAs("share_of_cells_with_it")))
        .containsExactly("endothelial cell 0.5 1.0", "fibroblast 2.0 1.0", "null null 0.0");
    assertThat(project(run("leading_genes_per_type", Map.of("ranks", 1, "per_type", 5)),
        r -> r.getAs("cell_type") + " " + r.getAs("gene") + " " + r.getAs("cells_with_gene_leading")))
        .containsExactly("null B2M 1", "endothelial cell PECAM1 1", "endothelial cell VWF 1", "fibroblast DCN 1");
    Row last = run("training_last_steps", Map.of("last_steps", 10)).get(0);
    // steps 20..29: mean ev 0.245, mean l0 5.5, dead fraction at step 29
    assertThat((long) last.getAs("steps")).isEqualTo(30);
    assertThat((double) last.getAs("ev_last_steps")).isCloseTo(0.245, within(1e-12));
    assertThat((double) last.getAs("l0_last_steps")).isCloseTo(5.5, within(1e-12));
    assertThat((double) last.getAs("dead_fraction_at_end")).isEqualTo(0.029);
    assertThat(project(run("training_curves", Map.of("every", 10)), r -> r.getAs("step"))).containsExactly(0L, 10L, 20L);
  }

  @Test
  void aQueryRefusesUnknownAndMissingParamsBeforeSparkSeesIt() throws Exception {
    NamedQuery q = NamedQuery.load(NotebookQueries.FOLDER.resolve("features_driving_cell_type.sql"));
    assertThatThrownBy(q::render).hasMessageContaining("needs a value for param cell_type");
    assertThatThrownBy(() -> q.render(Map.of("cell_type", ENDO, "celltype", ENDO)))
        .hasMessageContaining("has no param celltype");
    assertThatThrownBy(() -> q.render(Map.of("cell_type", ENDO, "top", "1 OR 1=1")))
        .hasMessageContaining("expected an integer");
  }

  private static List<Row> run(String query, Map<String, ?> values) throws Exception {
    return spark.sql(NamedQuery.load(NotebookQueries.FOLDER.resolve(query + ".sql")).render(values)).collectAsList();
  }

  private static <T> List<T> project(List<Row> rows, Function<Row, T> f) {
    return rows.stream().map(f).toList();
  }

  private static org.apache.spark.sql.Dataset<Row> df(List<Row> rows, StructType schema) {
    return spark.createDataFrame(rows, schema);
  }

  /** Commits a stage holding these Parquet tables and these non-Parquet files (each written with a line of text). */
  private static void commit(String stage, Map<String, org.apache.spark.sql.Dataset<Row>> tables, List<String> files)
      throws Exception {
    StageSpec spec = new StageSpec(stage, ConfigFactory.parseString(stage + ".fixture = 1"), Map.of());
    StageCommitter.run(root, spec, true, attemptDir -> {
      Map<String, Long> counts = new LinkedHashMap<>();
      for (Map.Entry<String, org.apache.spark.sql.Dataset<Row>> t : tables.entrySet()) {
        t.getValue().coalesce(1).write().parquet(attemptDir + "/" + t.getKey());
        counts.put(t.getKey(), t.getValue().count());
      }
      for (String f : files) {
        Path file = Path.of(java.net.URI.create(attemptDir + "/" + f));
        Files.createDirectories(file.getParent());
        Files.writeString(file, "not a table\n");
        // the stages list folders (transcoders/layer=0, circuits/export, report) and files alike
        String entry = f.startsWith("transcoders/") || f.startsWith(CircuitsJob.EXPORT_DIR) || f.startsWith("report/")
            ? f.substring(0, f.lastIndexOf('/')) : f;
        counts.put(entry, 1L);
      }
      return StageResult.of(counts);
    });
  }

  private static Row variant(String name, Integer layer, double loss, double kl, double accuracy) {
    return RowFactory.create(name, layer, loss, 2 * loss, kl, kl / 2, accuracy, 10L, 10L, 10L, 100L);
  }

  private static Row graph(String cell, String type, double replacement, double ablationTop, double ablationRandom) {
    return RowFactory.create(cell, type, type, "answer", 7L, null, 3.0, 12, 20, 5, 30, 10, 12L, replacement, 0.95,
        0.1, ablationTop, ablationRandom, 1.5);
  }

  private static Row node(String cell, String id, String kind, Integer layer, Integer pos, Integer feature,
      String gene) {
    return RowFactory.create(cell, ENDO, id, kind, layer, pos, feature, gene, gene == null ? null : pos, 1.0, 0.5,
        0.5, true);
  }

  private static Row summary(String type, String kind, int rank, String gene, Integer layer, Integer feature,
      long cells, long cellsOfType, double total) {
    return RowFactory.create(type, kind, rank, gene, layer, feature, cells, cellsOfType, (double) cells / cellsOfType,
        total, total / cells, 0.1);
  }

  /** A live feature's top examples: one token on each of its top genes, plus one more on its top gene. */
  private static Row feature(int layer, int f, long firing, String topGene, double share, String label,
      List<String> topGenes) {
    List<Row> examples = new ArrayList<>();
    for (int i = 0; i < topGenes.size(); i++) {
      examples.add(RowFactory.create("c1", ENDO, i, topGenes.get(i), i, (float) (3 - i)));
    }
    if (topGene != null) {
      examples.add(RowFactory.create("c2", ENDO, 0, topGene, 0, 0.5f));
    }
    String kind = label.contains(":") ? label.substring(0, label.indexOf(':')) : label;
    return RowFactory.create(layer, f, "transcoder", firing, firing / 100.0, topGene, share,
        topGenes.subList(0, Math.min(3, topGenes.size())).toArray(new String[0]), Math.min(1, share + 0.1),
        firing == 0 ? null : ENDO, 0.5, Map.of(ENDO, 1.0), 0.0, 0.2, label, kind, topGenes.toArray(new String[0]),
        examples.toArray(), null, null, null, null);
  }

  private static Row knockout(String cell, String type, String kind, String gene, Integer layer, Integer feature,
      int rank, double drop, boolean changed) {
    return RowFactory.create(cell, type, kind, gene, layer, feature, rank, 1.0 / rank, -0.5, drop, drop / 2, changed);
  }
}
