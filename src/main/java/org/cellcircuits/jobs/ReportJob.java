package org.cellcircuits.jobs;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.broadcast;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.row_number;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.evaluate.EvaluateJob;
import org.cellcircuits.io.HadoopFolders;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.report.CellTypeReport;
import org.cellcircuits.report.CircuitEdgeRow;
import org.cellcircuits.report.CircuitNodeRow;
import org.cellcircuits.report.FeatureInfo;
import org.cellcircuits.report.FeatureKey;
import org.cellcircuits.report.HtmlReport;
import org.cellcircuits.report.ReportData;
import org.cellcircuits.report.ReportTable;
import org.cellcircuits.report.TypeCircuit;
import org.cellcircuits.report.TypeCircuitBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The interpret stage's HTML report ({@code report/} in its attempt): reads the tables with Spark, hands plain records
 * to {@link org.cellcircuits.report} and copies the pages to the attempt through the Hadoop file system (so an
 * {@code s3a://} root works), {@code index.html} last.
 *
 * <p>Reads: this attempt's {@code features/}, {@code interpretability.txt} and, when present, {@code
 * validation/summary}; the committed {@code circuits/{graphs,nodes,edges,summary}} and {@code
 * evaluation/{summary,layers}} when those stages have committed (else the report says "not run"). A cell type's
 * circuits are streamed to the driver one type at a time (nodes and edges sorted by type and cell), so the driver
 * holds one type's nodes, never the whole table. Feature pages: the features drawn in some type's circuit, the
 * {@value #SUMMARY_ROWS} first features of each type's {@code circuits/summary}, and the {@value #MOST_SPECIFIC} live
 * features of highest tau whose top cell type is each type; only those rows of {@code features/} are collected.
 */
public final class ReportJob {
  private static final Logger LOG = LoggerFactory.getLogger(ReportJob.class);

  /** The report's folder inside the interpret attempt. */
  public static final String REPORT_DIR = "report";
  /** {@code validation/summary} in the interpret attempt, when validation ran. */
  public static final String VALIDATION_SUMMARY = "validation/summary";
  /** Genes and features of each type's {@code circuits/summary} shown on its page. */
  public static final int SUMMARY_ROWS = 20;
  /** Most specific features listed (and given a page) per cell type. */
  public static final int MOST_SPECIFIC = 5;
  /** Rows of a generic table (evaluation, validation) shown at most. */
  static final int TABLE_ROWS = 500;

  private static final StructType KEY_SCHEMA = new StructType()
      .add("k_layer", DataTypes.IntegerType, false).add("k_feature", DataTypes.IntegerType, false);

  private ReportJob() {}

  /**
   * Writes the report to {@code attemptDir/report/}.
   *
   * @param attemptDir the interpret stage's attempt folder (not yet committed), holding its {@code features/}
   * @return the number of files written
   */
  public static long write(SparkSession spark, RunRoot root, String attemptDir) throws IOException {
    return write(spark, root, attemptDir, true);
  }

  /**
   * As {@link #write(SparkSession, RunRoot, String)}; with {@code withCircuits} false the committed circuits are not
   * read (the interpret stage does not declare them as its input then), and the report has no cell-type pages.
   */
  public static long write(SparkSession spark, RunRoot root, String attemptDir, boolean withCircuits)
      throws IOException {
    long start = System.nanoTime();
    ReportData data = read(spark, root, attemptDir, withCircuits);
    java.nio.file.Path local = Files.createTempDirectory("cellcircuits-report-");
    try {
      List<String> files = HtmlReport.write(data, local);
      Path target = new Path(attemptDir, REPORT_DIR);
      FileSystem fs = target.getFileSystem(root.hadoop());
      List<String> ordered = new ArrayList<>(files);
      ordered.sort(Comparator.comparing(f -> f.equals(HtmlReport.INDEX))); // the index last: a complete report
      for (String f : ordered) {
        fs.copyFromLocalFile(false, true, new Path(local.resolve(f).toUri()), new Path(target, f));
      }
      LOG.info(String.format(Locale.ROOT, "interpret report: %d files (%d cell types, %d features) in %s in %.1f s",
          files.size(), data.cellTypes().size(), data.features().size(), target, (System.nanoTime() - start) / 1e9));
      return files.size();
    } finally {
      HadoopFolders.deleteRecursively(local);
    }
  }

  /** Everything the report shows, read from the attempt and the committed stages. */
  public static ReportData read(SparkSession spark, RunRoot root, String attemptDir) throws IOException {
    return read(spark, root, attemptDir, true);
  }

  /** As {@link #read(SparkSession, RunRoot, String)}, reading the committed circuits only when asked. */
  public static ReportData read(SparkSession spark, RunRoot root, String attemptDir, boolean withCircuits)
      throws IOException {
    List<String> notes = new ArrayList<>();
    ReportTable evalSummary = null;
    ReportTable evalLayers = null;
    if (root.committed("evaluate").isPresent()) {
      evalSummary = table(spark.read().parquet(root.committedPath("evaluate", EvaluateJob.SUMMARY_TABLE).toString()));
      evalLayers = table(spark.read().parquet(root.committedPath("evaluate", EvaluateJob.LAYERS_TABLE).toString()));
    }
    Path validation = new Path(attemptDir, VALIDATION_SUMMARY);
    ReportTable validationSummary = validation.getFileSystem(root.hadoop()).exists(validation)
        ? table(spark.read().parquet(validation.toString())) : null;

    List<CellTypeReport> types = withCircuits && root.committed("circuits").isPresent() ? cellTypes(spark, root)
        : List.of();
    if (!withCircuits) {
      notes.add("This interpret run did not read the circuits (interpret.validation.cells-per-type = 0): no "
          + "cell-type pages.");
    } else if (types.isEmpty()) {
      notes.add("The circuits stage has not committed under this run root: no cell-type pages.");
    }
    Dataset<Row> features = spark.read().parquet(attemptDir + "/" + InterpretJob.FEATURES_TABLE);
    Map<String, List<FeatureKey>> specific = mostSpecific(features);
    Set<FeatureKey> shown = ReportData.featuresShown(types, specific);
    Map<FeatureKey, FeatureInfo> infos = features(spark, features, shown);
    if (infos.size() < shown.size()) {
      notes.add(String.format(Locale.ROOT, "%d of the %d features the circuits name are not in this attempt's "
          + "features/ table (layers not interpreted); they are drawn without a page.", shown.size() - infos.size(),
          shown.size()));
    }
    return new ReportData(root.uri(), new Path(attemptDir).getName(), evalSummary, evalLayers,
        text(new Path(attemptDir, InterpretJob.TABLE_FILE), root), validationSummary, types, specific, infos, notes);
  }

  // ------------------------------------------------------------------------------------------------------ circuits

  private static List<CellTypeReport> cellTypes(SparkSession spark, RunRoot root) throws IOException {
    var type = coalesce(col("cell_type"), lit(InterpretJob.UNANNOTATED));
    Dataset<Row> graphs = spark.read().parquet(root.committedPath("circuits", CircuitsJob.GRAPHS_TABLE).toString())
        .withColumn("t", type);
    Map<String, Row> perType = new TreeMap<>();
    for (Row r : graphs.groupBy("t").agg(count(lit(1)).as("cells"), avg("replacement_score").as("repl"),
        avg("completeness_score").as("compl")).collectAsList()) {
      perType.put(r.getString(0), r);
    }
    Map<String, List<CellTypeReport.Ranked>> genes = new HashMap<>();
    Map<String, List<CellTypeReport.Ranked>> features = new HashMap<>();
    Dataset<Row> summary = spark.read().parquet(root.committedPath("circuits", CircuitsJob.SUMMARY_TABLE).toString())
        .withColumn("t", type).filter(col("rank").leq(SUMMARY_ROWS)).orderBy("t", "kind", "rank");
    for (Row r : summary.select("t", "kind", "rank", "gene", "layer", "feature", "cells", "share",
        "mean_attribution", "mean_influence").collectAsList()) {
      boolean gene = r.getString(1).equals("gene");
      CellTypeReport.Ranked ranked = new CellTypeReport.Ranked(r.getInt(2), gene ? r.getString(3) : null,
          gene ? null : new FeatureKey(r.getInt(4), r.getInt(5)), r.getLong(6), r.getDouble(7), r.getDouble(8),
          r.getDouble(9));
      (gene ? genes : features).computeIfAbsent(r.getString(0), t -> new ArrayList<>()).add(ranked);
    }

    Dataset<Row> cellType = graphs.select(col("cell_id").as("g_cell"), col("t"));
    Iterator<Row> nodes = spark.read().parquet(root.committedPath("circuits", CircuitsJob.NODES_TABLE).toString())
        .withColumn("t", type)
        .select("t", "cell_id", "node_id", "kind", "layer", "feature", "gene", "influence", "attribution")
        .orderBy("t", "cell_id").toLocalIterator();
    Dataset<Row> edgeTable = spark.read().parquet(root.committedPath("circuits", CircuitsJob.EDGES_TABLE).toString());
    Iterator<Row> edges = edgeTable.join(cellType, edgeTable.col("cell_id").equalTo(cellType.col("g_cell")))
        .select("t", "cell_id", "source", "target", "weight").orderBy("t", "cell_id").toLocalIterator();
    Peeking nodeRows = new Peeking(nodes);
    Peeking edgeRows = new Peeking(edges);

    List<CellTypeReport> out = new ArrayList<>();
    // Spark sorts the two streams the same way; walk the types in that order
    List<String> order = new ArrayList<>();
    while (nodeRows.hasNext()) {
      String t = nodeRows.peek().getString(0);
      order.add(t);
      Row stats = perType.get(t);
      if (stats == null) {
        throw new IllegalStateException(String.format(
            "circuits/nodes has cells of type %s that circuits/graphs does not list", t));
      }
      TypeCircuitBuilder b = new TypeCircuitBuilder(t, (int) stats.getLong(1));
      while (nodeRows.hasNext() && nodeRows.peek().getString(0).equals(t)) {
        Row r = nodeRows.next();
        b.addNode(new CircuitNodeRow(r.getString(1), r.getString(2), r.getString(3),
            r.isNullAt(4) ? null : r.getInt(4), r.isNullAt(5) ? null : r.getInt(5), r.getString(6), r.getDouble(7),
            r.getDouble(8)));
      }
      while (edgeRows.hasNext() && edgeRows.peek().getString(0).equals(t)) {
        Row r = edgeRows.next();
        b.addEdge(new CircuitEdgeRow(r.getString(1), r.getString(2), r.getString(3), r.getDouble(4)));
      }
      TypeCircuit circuit = b.build();
      out.add(new CellTypeReport(t, (int) stats.getLong(1), stats.isNullAt(2) ? null : stats.getDouble(2),
          stats.isNullAt(3) ? null : stats.getDouble(3), circuit, genes.getOrDefault(t, List.of()),
          features.getOrDefault(t, List.of())));
    }
    if (edgeRows.hasNext()) {
      throw new IllegalStateException(String.format("circuits/edges has cells of type %s without nodes in "
          + "circuits/nodes (types with nodes: %s)", edgeRows.peek().getString(0), order));
    }
    return out;
  }

  /** An iterator that can look at its next row. */
  private static final class Peeking {
    private final Iterator<Row> rows;
    private Row next;

    Peeking(Iterator<Row> rows) {
      this.rows = rows;
    }

    boolean hasNext() {
      return next != null || rows.hasNext();
    }

    Row peek() {
      if (next == null) {
        next = rows.next();
      }
      return next;
    }

    Row next() {
      Row r = peek();
      next = null;
      return r;
    }
  }

  // ------------------------------------------------------------------------------------------------------ features

  private static Map<String, List<FeatureKey>> mostSpecific(Dataset<Row> features) {
    var order = Window.partitionBy(col("top_cell_type")).orderBy(col("cell_type_tau").desc(),
        col("firing_frequency").desc(), col("layer"), col("feature"));
    Map<String, List<FeatureKey>> out = new TreeMap<>();
    for (Row r : features.filter(col("label_kind").notEqual("dead").and(col("top_cell_type").isNotNull()))
        .withColumn("r", row_number().over(order)).filter(col("r").leq(MOST_SPECIFIC))
        .select("top_cell_type", "layer", "feature", "r").orderBy("top_cell_type", "r").collectAsList()) {
      out.computeIfAbsent(r.getString(0), t -> new ArrayList<>()).add(new FeatureKey(r.getInt(1), r.getInt(2)));
    }
    return out;
  }

  private static Map<FeatureKey, FeatureInfo> features(SparkSession spark, Dataset<Row> features,
      Set<FeatureKey> keys) {
    List<Row> keyRows = new ArrayList<>();
    keys.forEach(k -> keyRows.add(RowFactory.create(k.layer(), k.feature())));
    Dataset<Row> wanted = broadcast(spark.createDataFrame(keyRows, KEY_SCHEMA));
    Dataset<Row> rows = features.join(wanted,
        features.col("layer").equalTo(wanted.col("k_layer")).and(features.col("feature").equalTo(wanted.col("k_feature"))))
        .select("layer", "feature", "kind", "firing_frequency", "top_gene", "top_gene_share", "top_genes",
            "top_cell_type", "cell_type_tau", "mean_by_cell_type", "label", "label_kind", "top_examples",
            "enriched_set", "enrichment_q");
    Map<FeatureKey, FeatureInfo> out = new TreeMap<>();
    for (Row r : rows.collectAsList()) {
      List<FeatureInfo.Example> examples = new ArrayList<>();
      for (Row e : r.<Row>getList(12)) {
        examples.add(new FeatureInfo.Example(e.getString(e.fieldIndex("cell_id")), e.getString(e.fieldIndex("cell_type")),
            e.getInt(e.fieldIndex("pos")), e.getString(e.fieldIndex("gene")),
            e.isNullAt(e.fieldIndex("gene_rank")) ? null : e.getInt(e.fieldIndex("gene_rank")),
            ((Number) e.get(e.fieldIndex("activation"))).doubleValue()));
      }
      Map<String, Double> means = new LinkedHashMap<>(r.<String, Double>getJavaMap(9));
      FeatureKey key = new FeatureKey(r.getInt(0), r.getInt(1));
      out.put(key, new FeatureInfo(key, r.getString(2), r.getDouble(3), r.getString(4), r.getDouble(5),
          r.<String>getList(6), r.getString(7), r.getDouble(8), means, r.getString(10), r.getString(11), examples,
          r.getString(13), r.isNullAt(14) ? null : r.getDouble(14)));
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------------------- helpers

  /** A small table as printed: every column, at most {@value #TABLE_ROWS} rows. */
  static ReportTable table(Dataset<Row> df) {
    List<List<Object>> rows = new ArrayList<>();
    for (Row r : df.limit(TABLE_ROWS).collectAsList()) {
      List<Object> row = new ArrayList<>();
      for (int i = 0; i < r.size(); i++) {
        row.add(r.get(i));
      }
      rows.add(row);
    }
    return ReportTable.of(List.of(df.columns()), rows);
  }

  private static String text(Path file, RunRoot root) throws IOException {
    try (var in = file.getFileSystem(root.hadoop()).open(file)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (FileNotFoundException e) {
      return null;
    }
  }
}
