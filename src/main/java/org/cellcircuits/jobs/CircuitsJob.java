package org.cellcircuits.jobs;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.cellcircuits.circuits.CircuitExtractor;
import org.cellcircuits.circuits.CircuitParams;
import org.cellcircuits.circuits.ReplacementWeights;
import org.cellcircuits.evaluate.EvaluateJob;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.ml.CircuitTransformer;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.runtime.ExecutorTranscoders;
import org.cellcircuits.runtime.ModelFolder;
import org.cellcircuits.sentences.SentencesJob;
import org.cellcircuits.transcoder.Transcoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The circuits stage as a Spark job: the chosen cells of the committed sentences table are spread over tasks; each task
 * extracts its cells' circuits with the model and transcoders its executor JVM holds ({@link CircuitExtractor}) and
 * returns their rows; the driver writes {@code circuits/graphs}, {@code circuits/nodes}, {@code circuits/edges}, the
 * per-type {@code circuits/summary} (from the nodes just written), the circuit-tracer JSON of the export cells and the
 * printed summary table {@code circuits/summary.txt}.
 */
public final class CircuitsJob {
  private static final Logger LOG = LoggerFactory.getLogger(CircuitsJob.class);

  public static final String GRAPHS_TABLE = "circuits/graphs";
  public static final String NODES_TABLE = "circuits/nodes";
  public static final String EDGES_TABLE = "circuits/edges";
  public static final String SUMMARY_TABLE = "circuits/summary";
  public static final String EXPORT_DIR = "circuits/export";
  public static final String TABLE_FILE = "circuits/summary.txt";

  /** One row per cell. */
  public static final StructType GRAPHS_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_id", DataTypes.StringType, false),
      DataTypes.createStructField("cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("predicted_cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("target", DataTypes.StringType, false),
      DataTypes.createStructField("target_token", DataTypes.LongType, false),
      DataTypes.createStructField("target_minus_token", DataTypes.LongType, true),
      DataTypes.createStructField("logit", DataTypes.DoubleType, false),
      DataTypes.createStructField("tokens", DataTypes.IntegerType, false),
      DataTypes.createStructField("active_features", DataTypes.IntegerType, false),
      DataTypes.createStructField("rows_computed", DataTypes.IntegerType, false),
      DataTypes.createStructField("graph_nodes", DataTypes.IntegerType, false),
      DataTypes.createStructField("nodes", DataTypes.IntegerType, false),
      DataTypes.createStructField("edges", DataTypes.LongType, false),
      DataTypes.createStructField("replacement_score", DataTypes.DoubleType, false),
      DataTypes.createStructField("completeness_score", DataTypes.DoubleType, false),
      DataTypes.createStructField("error_share", DataTypes.DoubleType, true),
      DataTypes.createStructField("ablation_top_drop", DataTypes.DoubleType, true),
      DataTypes.createStructField("ablation_random_drop", DataTypes.DoubleType, true),
      DataTypes.createStructField("seconds", DataTypes.DoubleType, false)});

  /** The kept nodes of every cell's pruned graph. */
  public static final StructType NODES_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_id", DataTypes.StringType, false),
      DataTypes.createStructField("cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("node_id", DataTypes.StringType, false),
      DataTypes.createStructField("kind", DataTypes.StringType, false),
      DataTypes.createStructField("layer", DataTypes.IntegerType, true),
      DataTypes.createStructField("pos", DataTypes.IntegerType, true),
      DataTypes.createStructField("feature", DataTypes.IntegerType, true),
      DataTypes.createStructField("gene", DataTypes.StringType, true),
      DataTypes.createStructField("gene_rank", DataTypes.IntegerType, true),
      DataTypes.createStructField("activation", DataTypes.DoubleType, false),
      DataTypes.createStructField("influence", DataTypes.DoubleType, false),
      DataTypes.createStructField("attribution", DataTypes.DoubleType, false),
      DataTypes.createStructField("in_circuit", DataTypes.BooleanType, false)});

  /** The kept edges: direct effect of source on target. */
  public static final StructType EDGES_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_id", DataTypes.StringType, false),
      DataTypes.createStructField("source", DataTypes.StringType, false),
      DataTypes.createStructField("target", DataTypes.StringType, false),
      DataTypes.createStructField("weight", DataTypes.DoubleType, false)});

  /** Per cell type: features and input genes ranked. */
  public static final StructType SUMMARY_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("kind", DataTypes.StringType, false),
      DataTypes.createStructField("rank", DataTypes.IntegerType, false),
      DataTypes.createStructField("gene", DataTypes.StringType, true),
      DataTypes.createStructField("layer", DataTypes.IntegerType, true),
      DataTypes.createStructField("feature", DataTypes.IntegerType, true),
      DataTypes.createStructField("cells", DataTypes.LongType, false),
      DataTypes.createStructField("cells_of_type", DataTypes.LongType, false),
      DataTypes.createStructField("share", DataTypes.DoubleType, false),
      DataTypes.createStructField("total_attribution", DataTypes.DoubleType, false),
      DataTypes.createStructField("mean_attribution", DataTypes.DoubleType, false),
      DataTypes.createStructField("mean_influence", DataTypes.DoubleType, false)});

  private CircuitsJob() {}

  /**
   * What the stage will trace, settled on the driver.
   *
   * @param sentencesPath the committed sentences table
   * @param predictionsPath the committed harvest predictions
   * @param model the model's shape
   * @param dictionaries the committed transcoders, in layer order
   * @param cellIds the cells to trace, sorted
   * @param exportIds the cells whose graphs are also written as circuit-tracer JSON
   * @param candidates cells the choice was made from (held-out or all)
   */
  public record Plan(String sentencesPath, String predictionsPath, NeoXConfig model,
      List<EvaluateJob.Dictionary> dictionaries, List<String> cellIds, Set<String> exportIds, long candidates) {}

  /** What the job did: per-cell-type lines and the stage's figures. */
  public record Outcome(String table, Map<String, Double> stats, long graphs, long nodes, long edges, long summary,
      long exports) {}

  /** Checks the inputs and chooses the cells. */
  public static Plan plan(SparkSession spark, RunRoot root, CircuitParams params) throws IOException {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    String sentencesPath = root.committedPath("sentences", "sentences").toString();
    String predictionsPath = root.committedPath("harvest", "predictions").toString();
    NeoXConfig model = ModelFolder.checkedConfig(ModelFolder.local(params.model().path(), hadoop));
    List<EvaluateJob.Dictionary> dictionaries = EvaluateJob.committedDictionaries(root, model);
    Dataset<Row> sentences = spark.read().parquet(sentencesPath);
    SentencesJob.checkSchema(sentences.schema(), sentencesPath);
    List<Row> cells = sentences.select("cell_id", "cell_type").collectAsList();
    SortedMap<String, List<String>> byType = new TreeMap<>();
    long candidates = 0;
    for (Row r : cells) {
      String id = r.getString(0);
      if (id == null || (params.heldOutOnly() && !params.split().isHeldOut(id))) {
        continue;
      }
      candidates++;
      byType.computeIfAbsent(r.isNullAt(1) ? "" : r.getString(1), k -> new ArrayList<>()).add(id);
    }
    if (candidates == 0) {
      throw new IllegalArgumentException(String.format("no cells to trace in %s: circuits.cells = %s and the split "
          + "(%s) holds out none of its cells", sentencesPath, params.heldOutOnly() ? "held-out" : "all",
          params.split().describe()));
    }
    List<String> chosen = new ArrayList<>();
    Set<String> export = new HashSet<>();
    for (Map.Entry<String, List<String>> e : byType.entrySet()) {
      List<String> ids = new ArrayList<>(e.getValue());
      Collections.sort(ids);
      if (params.cellsPerType() > 0 && ids.size() > params.cellsPerType()) {
        // a seeded draw, not the first ids: ids often carry the sample or donor in a prefix
        Collections.shuffle(ids, new Random(params.randomSeed() ^ e.getKey().hashCode()));
        ids = new ArrayList<>(ids.subList(0, params.cellsPerType()));
        Collections.sort(ids);
      }
      chosen.addAll(ids);
      export.addAll(ids.subList(0, Math.min(params.exportCells(), ids.size())));
    }
    Collections.sort(chosen);
    return new Plan(sentencesPath, predictionsPath, model, dictionaries, chosen, export, candidates);
  }

  /** Runs the plan and writes its tables under {@code attemptDir}. */
  public static Outcome run(SparkSession spark, Plan plan, CircuitParams params, String attemptDir,
      LongAccumulator cellsDone) throws IOException {
    long start = System.nanoTime();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    int partitions = Math.max(1, (plan.cellIds().size() + params.cellsPerTask() - 1) / params.cellsPerTask());
    LOG.info("circuits: {} cells ({} candidates, {}) in {} tasks; target {}; transcoders of layers {} of {}",
        plan.cellIds().size(), plan.candidates(), params.heldOutOnly() ? "held-out" : "all", partitions,
        params.target(), plan.dictionaries().stream().map(EvaluateJob.Dictionary::layer).toList(),
        plan.model().numLayers());
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<Set<String>> chosen = jsc.broadcast(new HashSet<>(plan.cellIds()));
    Broadcast<Set<String>> exportIds = jsc.broadcast(new HashSet<>(plan.exportIds()));
    Dataset<Row> predictions = spark.read().parquet(plan.predictionsPath())
        .select(functions.col("cell_id").as("p_cell_id"), functions.col("predicted_cell_type"));
    Dataset<Row> sentences = spark.read().parquet(plan.sentencesPath())
        .select("cell_id", "cell_type", "genes", "prompt");
    Dataset<Row> joined = sentences.join(predictions,
            sentences.col("cell_id").equalTo(predictions.col("p_cell_id")), "left")
        .select("cell_id", "cell_type", "genes", "prompt", "predicted_cell_type");
    StructType cellsSchema = joined.schema().add(EXPORT_COL, DataTypes.BooleanType, false);
    JavaRDD<Row> chosenCells = joined.javaRDD()
        .filter(r -> !r.isNullAt(0) && chosen.value().contains(r.getString(0)))
        .map(r -> RowFactory.create(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4),
            exportIds.value().contains(r.getString(0))))
        .repartition(partitions);
    Map<Integer, String> folders = new TreeMap<>();
    plan.dictionaries().forEach(d -> folders.put(d.layer(), d.folder()));
    // the stage is the ML transformer over the chosen cells (one partition a task), its rows split into the tables
    CircuitTransformer tracer = CircuitTransformer.forStage(params, folders).setExportCol(EXPORT_COL)
        .withProgress(cellsDone);
    Dataset<Row> outputs = tracer.transform(spark.createDataFrame(chosenCells, cellsSchema))
        .persist(StorageLevel.MEMORY_AND_DISK());
    String nodesCol = tracer.getOrDefault(tracer.nodesCol());
    String edgesCol = tracer.getOrDefault(tracer.edgesCol());
    try {
      // traced here, one task a partition: the writes below coalesce, which would otherwise trace in one task
      spark.sparkContext().setJobDescription(String.format(Locale.ROOT, "circuits: tracing %,d cells in %d tasks",
          plan.cellIds().size(), partitions));
      outputs.count();
      Column[] graphColumns = Arrays.stream(GRAPHS_SCHEMA.fieldNames()).map(functions::col).toArray(Column[]::new);
      spark.createDataFrame(outputs.select(graphColumns).javaRDD(), GRAPHS_SCHEMA).coalesce(1).write()
          .parquet(attemptDir + "/" + GRAPHS_TABLE);
      spark.createDataFrame(exploded(outputs, nodesCol).javaRDD(), NODES_SCHEMA).write()
          .parquet(attemptDir + "/" + NODES_TABLE);
      spark.createDataFrame(exploded(outputs, edgesCol).javaRDD(), EDGES_SCHEMA).write()
          .parquet(attemptDir + "/" + EDGES_TABLE);
      List<Row> exports = outputs.where(functions.col(CircuitTransformer.EXPORT_JSON_COL).isNotNull())
          .select("cell_id", CircuitTransformer.EXPORT_JSON_COL).collectAsList();
      for (Row e : exports) {
        Path file = new Path(attemptDir + "/" + EXPORT_DIR, safeName(e.getString(0)) + ".json");
        try (OutputStream out = file.getFileSystem(hadoop).create(file, false)) {
          out.write(e.getString(1).getBytes(StandardCharsets.UTF_8));
        }
      }
      exportIds.destroy();
      chosen.destroy();

      Dataset<Row> graphs = spark.read().parquet(attemptDir + "/" + GRAPHS_TABLE);
      long graphCount = graphs.count();
      if (graphCount != plan.cellIds().size()) {
        throw new IllegalStateException(String.format(
            "circuits: tasks traced %d cells; %d were chosen (is a cell_id in the sentences table twice?)", graphCount,
            plan.cellIds().size()));
      }
      Dataset<Row> nodes = spark.read().parquet(attemptDir + "/" + NODES_TABLE);
      Dataset<Row> summary = CircuitSummary.summarise(nodes, graphs);
      summary.coalesce(1).write().parquet(attemptDir + "/" + SUMMARY_TABLE);
      Dataset<Row> written = spark.read().parquet(attemptDir + "/" + SUMMARY_TABLE);
      Map<String, List<String>> markers = params.markersPath() == null ? Map.of()
          : readMarkersFile(params.markersPath(), hadoop);
      double seconds = (System.nanoTime() - start) / 1e9;
      CircuitSummary.Report report = CircuitSummary.report(graphs, written, markers, params.topGenes(), seconds);
      Path tableFile = new Path(attemptDir, TABLE_FILE);
      try (OutputStream out = tableFile.getFileSystem(hadoop).create(tableFile, false)) {
        out.write(report.table().getBytes(StandardCharsets.UTF_8));
      }
      LOG.info(String.format(Locale.ROOT, "circuits: %d graphs in %.1f s (%.2f cells/s); the per-type table follows the "
          + "stage", graphCount, seconds, graphCount / seconds));
      return new Outcome(report.table(), report.stats(), graphCount, nodes.count(),
          spark.read().parquet(attemptDir + "/" + EDGES_TABLE).count(), written.count(), exports.size());
    } finally {
      outputs.unpersist(false);
    }
  }

  /** The input column that marks the cells whose graph is also exported as circuit-tracer JSON. */
  private static final String EXPORT_COL = "export_circuit_tracer_json";

  /** One row per element of the array column {@code arrayCol}, the cell id first (a table's rows). */
  private static Dataset<Row> exploded(Dataset<Row> outputs, String arrayCol) {
    return outputs.select(functions.col("cell_id"), functions.explode(functions.col(arrayCol)).as("e"))
        .select("cell_id", "e.*");
  }

  /** A file name for a cell id: letters, digits, '-', '_' and '.' kept, anything else '_'. */
  static String safeName(String cellId) {
    return cellId.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  /** The replacement weights cut once per executor JVM for each loaded (model, transcoder set). */
  private static final Map<String, ReplacementWeights> WEIGHTS = new ConcurrentHashMap<>();

  /**
   * The replaced model's weights for the executor's model and the transcoders in {@code folders} (layer to committed
   * folder), cut once per JVM and shared by its tasks (the circuits stage's and the interpret stage's knockout check).
   */
  static ReplacementWeights replacementWeights(ExecutorModels.Loaded loaded, Map<Integer, String> folders,
      Configuration hadoop) {
    Device device = loaded.model().device();
    SortedMap<Integer, Transcoder> transcoders = new TreeMap<>();
    folders.forEach((layer, folder) -> transcoders.put(layer, ExecutorTranscoders.get(folder, device, hadoop)));
    // keyed by the very model and transcoders (the weights use their arrays in place), so weights cut from ones a
    // test has since closed and reloaded are never handed out
    StringBuilder key = new StringBuilder(loaded.folder() + "|" + device + "|" + System.identityHashCode(loaded.model()));
    transcoders.forEach((layer, t) -> key.append('|').append(layer).append(':').append(System.identityHashCode(t)));
    return WEIGHTS.computeIfAbsent(key.toString(), k -> new ReplacementWeights(loaded.model(), transcoders));
  }

  /** The first token of the answer {@code " {type}."} as the model is trained to write it. */
  static long firstToken(String type, HuggingFaceTokenizer answers) {
    long[] ids = answers.encode(CellPrompt.answer(type), false, false).getIds();
    if (ids.length == 0) {
      throw new IllegalArgumentException("cell type \"" + type + "\" has no tokens");
    }
    return ids[0];
  }

  /** Reads a TSV with a header naming cell_type and gene columns. */
  static Map<String, List<String>> readMarkersFile(String path, Configuration hadoop) throws IOException {
    Path p = new Path(path);
    List<String> lines;
    try (InputStream in = p.getFileSystem(hadoop).open(p)) {
      lines = Arrays.asList(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\r?\n"));
    }
    if (lines.isEmpty()) {
      throw new IllegalArgumentException("markers file " + path + " is empty; expected a header with cell_type and gene");
    }
    List<String> header = Arrays.asList(lines.get(0).split("\t"));
    int type = header.indexOf("cell_type");
    int gene = header.indexOf("gene");
    if (type < 0 || gene < 0) {
      throw new IllegalArgumentException(String.format(
          "markers file %s: header %s lacks a cell_type or a gene column (tab-separated)", path, header));
    }
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (int i = 1; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      String[] f = lines.get(i).split("\t", -1);
      if (f.length <= Math.max(type, gene)) {
        throw new IllegalArgumentException(String.format("markers file %s line %d has %d fields; expected at least %d",
            path, i + 1, f.length, Math.max(type, gene) + 1));
      }
      out.computeIfAbsent(f[type], k -> new ArrayList<>()).add(f[gene]);
    }
    return out;
  }
}
