package org.cellcircuits.ml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.cellcircuits.evaluate.EvaluateFixtures;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.jobs.CircuitsJob;
import org.cellcircuits.jobs.StageRegistry;
import org.cellcircuits.jobs.StageRunner;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.runtime.ExecutorTranscoders;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderKind;
import org.cellcircuits.transcoder.TranscoderStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CircuitTransformer} against the circuits stage on the fixtures of {@code CircuitsStageTest} (a tiny random
 * model, random transcoders committed as a train stage): its rows equal the stage's committed graphs, nodes and edges
 * row for row; it survives a save and load, alone and in a Pipeline; bad params and columns name themselves.
 */
class CircuitTransformerTest {
  @TempDir static Path shared;
  private static SparkSession spark;
  private static Path model;
  private static RunRoot root;
  /** The stage's inputs for the cells it traced: sentences joined with the harvest's predictions. */
  private static Dataset<Row> cells;

  @BeforeAll
  static void start() throws Exception {
    spark = SparkSession.builder().master("local[2]").appName("CircuitTransformerTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    model = EvaluateFixtures.model(shared.resolve("model"), 7);
    root = RunRoot.of(shared.resolve("run").toString(), spark.sparkContext().hadoopConfiguration());
    Config config = EvaluateFixtures.config(root.uri(), model, "split.held-out-fraction=0.3",
        "circuits.cells-per-type=2", "circuits.cells-per-task=2", "circuits.max-feature-nodes=20",
        "circuits.batch-size=8", "circuits.ablation-features=3", "harvest.cells-per-task=20");
    EvaluateFixtures.commitSentences(spark, root, EvaluateFixtures.cells(40, 9));
    assertThat(run(config, "harvest").status()).isEqualTo(StageOutcome.Status.COMMITTED);
    SortedMap<Integer, Transcoder> tcs = new TreeMap<>();
    for (int layer = 0; layer < 3; layer++) {
      tcs.put(layer, EvaluateFixtures.transcoder(TranscoderKind.TRANSCODER, layer, 32, 48, 0.2, 100 + layer));
    }
    EvaluateFixtures.commitTrain(root, tcs, spark.sparkContext().hadoopConfiguration());
    tcs.values().forEach(Transcoder::close);
    assertThat(run(config, "circuits").status()).isEqualTo(StageOutcome.Status.COMMITTED);

    Dataset<Row> traced = table(CircuitsJob.GRAPHS_TABLE).select(functions.col("cell_id").as("g_cell_id"));
    Dataset<Row> predictions = spark.read().parquet(root.committedPath("harvest", "predictions").toString())
        .select(functions.col("cell_id").as("p_cell_id"), functions.col("predicted_cell_type"));
    Dataset<Row> sentences = spark.read().parquet(root.committedPath("sentences", "sentences").toString());
    cells = sentences.join(traced, sentences.col("cell_id").equalTo(traced.col("g_cell_id")))
        .join(predictions, sentences.col("cell_id").equalTo(predictions.col("p_cell_id")), "left")
        .select("cell_id", "cell_type", "genes", "prompt", "predicted_cell_type")
        .repartition(3).cache();
  }

  @AfterAll
  static void stop() {
    spark.stop();
    ExecutorModels.clear();
    ExecutorTranscoders.clear();
  }

  private static StageOutcome run(Config config, String stage) throws Exception {
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config, settings -> spark, false)) {
      return runner.run(stage);
    }
  }

  private static Dataset<Row> table(String name) {
    try {
      return spark.read().parquet(root.committedPath("circuits", name).toString());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The stage's settings of this test. */
  private static CircuitTransformer transformer() {
    return new CircuitTransformer().setModelPath(model.toString()).setDevice("cpu").setRunRoot(root.uri())
        .setMaxFeatureNodes(20).setBatchSize(8).setAblationFeatures(3);
  }

  /** Rows as comparable strings, sorted; doubles print exactly (Row.toString uses Double.toString). */
  private static List<String> sorted(Dataset<Row> rows) {
    List<String> out = new ArrayList<>(rows.collectAsList().stream().map(Row::toString).toList());
    out.sort(Comparator.naturalOrder());
    return out;
  }

  /** The graph columns but {@code seconds}, the cell's wall time. */
  private static Dataset<Row> graphs(Dataset<Row> rows) {
    return rows.select(Arrays.stream(CircuitsJob.GRAPHS_SCHEMA.fieldNames()).filter(n -> !n.equals("seconds"))
        .map(functions::col).toArray(org.apache.spark.sql.Column[]::new));
  }

  private static Dataset<Row> nodes(Dataset<Row> out, String column) {
    return out.select(functions.col("cell_id"), functions.explode(functions.col(column)).as("n"))
        .select("cell_id", "n.*");
  }

  private static Dataset<Row> edges(Dataset<Row> out, String column) {
    return out.select(functions.col("cell_id"), functions.explode(functions.col(column)).as("e"))
        .select("cell_id", "e.*");
  }

  @Test
  void rowsEqualTheStagesCommittedGraphsNodesAndEdges() {
    Dataset<Row> out = transformer().transform(cells).cache();
    assertThat(out.schema().fieldNames()).containsExactly(java.util.stream.Stream.concat(
        Arrays.stream(new String[] {"genes", "prompt"}),
        java.util.stream.Stream.concat(Arrays.stream(CircuitsJob.GRAPHS_SCHEMA.fieldNames()),
            java.util.stream.Stream.of("circuit_nodes", "circuit_edges"))).toArray(String[]::new));
    List<String> expectedGraphs = sorted(graphs(table(CircuitsJob.GRAPHS_TABLE)));
    assertThat(expectedGraphs).hasSizeGreaterThan(3);
    assertThat(sorted(graphs(out))).containsExactlyElementsOf(expectedGraphs);
    assertThat(nodes(out, "circuit_nodes").schema()).isEqualTo(CircuitsJob.NODES_SCHEMA);
    assertThat(edges(out, "circuit_edges").schema()).isEqualTo(CircuitsJob.EDGES_SCHEMA);
    List<String> expectedNodes = sorted(table(CircuitsJob.NODES_TABLE));
    List<String> expectedEdges = sorted(table(CircuitsJob.EDGES_TABLE));
    assertThat(expectedEdges).isNotEmpty();
    assertThat(sorted(nodes(out, "circuit_nodes"))).containsExactlyElementsOf(expectedNodes);
    assertThat(sorted(edges(out, "circuit_edges"))).containsExactlyElementsOf(expectedEdges);
    out.unpersist();
  }

  /** exportCol: the marked cells get their graph as circuit-tracer JSON (the stage's circuits/export files). */
  @Test
  void exportColAddsTheMarkedCellsCircuitTracerJson() {
    Dataset<Row> some = cells.limit(2).withColumn("export", functions.col("cell_id").equalTo(
        cells.limit(1).collectAsList().get(0).getString(cells.schema().fieldIndex("cell_id"))));
    List<Row> out = transformer().setExportCol("export").transform(some)
        .select("export", CircuitTransformer.EXPORT_JSON_COL).collectAsList();
    assertThat(out).hasSize(2);
    for (Row r : out) {
      if (r.getBoolean(0)) {
        assertThat(r.getString(1)).as("the marked cell's JSON").startsWith("{").contains("\"nodes\"");
      } else {
        assertThat(r.isNullAt(1)).as("an unmarked cell has no JSON").isTrue();
      }
    }
    assertThat(out.stream().filter(r -> r.getBoolean(0)).count()).isEqualTo(1);
    assertThatThrownBy(() -> transformer().setExportCol("prompt").transform(some))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exportCol").hasMessageContaining("boolean");
  }

  @Test
  void transcoderFoldersGiveWhatTheRunRootGives() throws Exception {
    String[] folders = TranscoderStore.committedLayers(root).values().stream().map(Object::toString)
        .toArray(String[]::new);
    Dataset<Row> some = cells.limit(2);
    CircuitTransformer byFolders = transformer();
    byFolders.clear(byFolders.runRoot());
    byFolders.setTranscoderFolders(folders);
    assertThat(sorted(graphs(byFolders.transform(some)))).containsExactlyElementsOf(
        sorted(graphs(transformer().transform(some))));
  }

  @Test
  void saveLoadAloneAndInAPipelineGivesTheSameRows(@TempDir Path dir) throws Exception {
    CircuitTransformer t = transformer().setTarget("annotated").setNodesCol("kept_nodes").setMethod("greedy");
    Dataset<Row> some = cells.where("cell_type is not null").limit(2);
    List<String> before = sorted(graphs(t.transform(some)));
    List<String> beforeNodes = sorted(nodes(t.transform(some), "kept_nodes"));

    t.save(dir.resolve("alone").toString());
    CircuitTransformer loaded = CircuitTransformer.load(dir.resolve("alone").toString());
    assertThat(loaded.uid()).isEqualTo(t.uid());
    assertThat(loaded.explainParams()).isEqualTo(t.explainParams());
    assertThat(sorted(graphs(loaded.transform(some)))).containsExactlyElementsOf(before);
    assertThat(sorted(nodes(loaded.transform(some), "kept_nodes"))).containsExactlyElementsOf(beforeNodes);

    PipelineModel pipeline = new Pipeline().setStages(new PipelineStage[] {t}).fit(some);
    pipeline.save(dir.resolve("pipeline").toString());
    PipelineModel again = PipelineModel.load(dir.resolve("pipeline").toString());
    assertThat(sorted(graphs(again.transform(some)))).containsExactlyElementsOf(before);
  }

  @Test
  void badParamsAndColumnsNameTheParamOrColumn() {
    CircuitTransformer t = new CircuitTransformer();
    assertThatThrownBy(() -> t.setMaxFeatureNodes(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxFeatureNodes").hasMessageContaining("0");
    assertThatThrownBy(() -> t.setNodeThreshold(1.5)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nodeThreshold");
    assertThatThrownBy(() -> t.setMethod("random")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("method");
    assertThatThrownBy(() -> t.setTarget("logit:T cell")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("target");
    assertThatThrownBy(() -> t.setDevice("tpu")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("device");
    assertThatThrownBy(() -> t.setTranscoderFolders(new String[0])).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("transcoderFolders");
    assertThatThrownBy(() -> new CircuitTransformer().setRunRoot(root.uri()).transform(cells))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("modelPath");
    assertThatThrownBy(() -> transformer().setTranscoderFolders(new String[] {"x"}).transform(cells))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("runRoot and transcoderFolders");
    assertThatThrownBy(() -> transformer().transform(cells.drop("prompt")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("promptCol")
        .hasMessageContaining("'prompt'");
    assertThatThrownBy(() -> transformer().setGenesCol("prompt").transform(cells))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("genesCol")
        .hasMessageContaining("array<string>");
    assertThatThrownBy(() -> transformer().transform(cells.withColumn("logit", functions.lit(1.0))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'logit'");
    assertThatThrownBy(() -> transformer().setEdgesCol("nodes").transform(cells))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("edgesCol");
    assertThatThrownBy(() -> transformer().setMaxTokens(5).transform(cells).count())
        .rootCause().hasMessageContaining("circuits.max-tokens is 5");
  }

  /** The steps of notebooks/spark_ml_example.py: vectors, sentences, circuits in a Pipeline, top genes per type. */
  @Test
  void notebookStepsRunAsAPipeline() {
    List<String> genes = List.of("MYH7", "MYL2", "FHL2", "VWF", "PECAM1", "CDH5", "DCN", "LUM", "PTPRC", "CD3E");
    org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType()
        .add("cell_id", "string").add("cell_type", "string")
        .add("expression", org.apache.spark.ml.linalg.SQLDataTypes.VectorType());
    Dataset<Row> vectors = spark.createDataFrame(List.of(
        org.apache.spark.sql.RowFactory.create("cell-a", "ventricular cardiomyocyte",
            org.apache.spark.ml.linalg.Vectors.sparse(10, new int[] {0, 1, 2, 9}, new double[] {9, 7, 5, 1})),
        org.apache.spark.sql.RowFactory.create("cell-b", "endothelial cell",
            org.apache.spark.ml.linalg.Vectors.sparse(10, new int[] {3, 4, 5, 6}, new double[] {8, 6, 6, 2})),
        org.apache.spark.sql.RowFactory.create("cell-c", "fibroblast",
            org.apache.spark.ml.linalg.Vectors.sparse(10, new int[] {0, 6, 7}, new double[] {1, 9, 4})),
        org.apache.spark.sql.RowFactory.create("cell-d", "lymphoid cell",
            org.apache.spark.ml.linalg.Vectors.sparse(10, new int[] {3, 8, 9}, new double[] {2, 7, 5}))), schema);
    CellSentenceTransformer sentences = new CellSentenceTransformer().setInputCol("expression").setGeneNames(genes)
        .setTopK(6).setTies("gene-order");
    PipelineModel pipeline = new Pipeline().setStages(new PipelineStage[] {sentences, transformer()}).fit(vectors);
    Dataset<Row> graphs = pipeline.transform(vectors).cache();
    assertThat(graphs.count()).isEqualTo(4);
    List<Row> top = graphs.select(functions.col("cell_type"), functions.explode(functions.col("circuit_nodes"))
            .as("n"))
        .where("n.kind = 'token' AND n.gene IS NOT NULL")
        .groupBy("cell_type", "n.gene").agg(functions.sum("n.attribution").as("total_attribution"))
        .orderBy(functions.col("cell_type"), functions.desc("total_attribution")).collectAsList();
    assertThat(top).isNotEmpty().allSatisfy(r -> assertThat(genes).contains(r.getString(1)));
    // each cell's genes are its own expressed genes
    for (Row g : graphs.select("cell_id", "genes").collectAsList()) {
      assertThat(g.<String>getList(1)).isNotEmpty().isSubsetOf(genes);
    }
    graphs.unpersist();
  }
}
