package org.cellcircuits.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.evaluate.EvaluateJob;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageCommitter;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.io.StageSpec;
import org.cellcircuits.jobs.CircuitsJob;
import org.cellcircuits.jobs.InterpretJob;
import org.cellcircuits.jobs.ReportJob;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report end to end: small tables in the circuits, evaluate and interpret schemas under a temporary run root (the
 * circuits and evaluate stages committed as those stages commit), {@link ReportJob#write} on Spark local[2],
 * then the pages in headless Chromium. Screenshots under target/report-screenshots/.
 */
@Tag("e2e")
class ReportJobTest {
  private static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("ReportJobTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  // ------------------------------------------------------------------------------------------------------ fixture

  private static Row node(String cell, String type, String id, String kind, Integer layer, Integer pos,
      Integer feature, String gene, double influence, double attribution) {
    return RowFactory.create(cell, type, id, kind, layer, pos, feature, gene, gene == null ? null : pos, 1.0,
        influence, attribution, true);
  }

  /**
   * Two endothelial cells whose prompts spell VWF as "ĠV"+"WF" and PECAM1 as "ĠPE"+"CAM"+"1" (one gene node each
   * after the merge), two fibroblasts (DCN, COL1A1), one unannotated cell. Feature L0 #3 reads VWF, L1 #8 feeds the
   * endothelial logit, L0 #5 reads DCN.
   */
  private static void commitCircuits(RunRoot root) throws Exception {
    List<Row> graphs = new ArrayList<>();
    List<Row> nodes = new ArrayList<>();
    List<Row> edges = new ArrayList<>();
    String[][] cells = {{"e1", "endothelial cell"}, {"e2", "endothelial cell"}, {"f1", "fibroblast"},
        {"f2", "fibroblast"}, {"u1", null}};
    for (String[] c : cells) {
      String id = c[0];
      String type = c[1];
      graphs.add(RowFactory.create(id, type, type, "predicted", 7L, null, 3.0, 20, 100, 10, 50, 8, 9L, 0.9, 0.96,
          0.05, 1.0, 0.1, 0.5));
      nodes.add(node(id, type, "TARGET", "target", null, null, null, null, 0, 0));
      nodes.add(node(id, type, "T:0", "token", null, 0, null, null, 0.2, 0.1)); // template token
      nodes.add(node(id, type, "E:0:4", "error", 0, 4, null, null, 0.05, 0.02));
      edges.add(RowFactory.create(id, "E:0:4", "TARGET", 0.3));
      edges.add(RowFactory.create(id, "T:0", "TARGET", 0.1));
      if ("endothelial cell".equals(type)) {
        nodes.add(node(id, type, "T:2", "token", null, 2, null, "VWF", 0.15, 0.3));
        nodes.add(node(id, type, "T:3", "token", null, 3, null, "VWF", 0.10, 0.2));
        nodes.add(node(id, type, "T:4", "token", null, 4, null, "PECAM1", 0.05, 0.1));
        nodes.add(node(id, type, "T:5", "token", null, 5, null, "PECAM1", 0.05, 0.1));
        nodes.add(node(id, type, "T:6", "token", null, 6, null, "PECAM1", 0.02, 0.05));
        nodes.add(node(id, type, "F:0:3:3", "feature", 0, 3, 3, null, 0.3, 0.5));
        nodes.add(node(id, type, "F:1:6:8", "feature", 1, 6, 8, null, 0.25, 0.4));
        edges.add(RowFactory.create(id, "T:2", "F:0:3:3", 0.6));
        edges.add(RowFactory.create(id, "T:3", "F:0:3:3", 0.4));
        edges.add(RowFactory.create(id, "T:4", "F:1:6:8", 0.2));
        edges.add(RowFactory.create(id, "T:6", "F:1:6:8", -0.05));
        edges.add(RowFactory.create(id, "F:0:3:3", "F:1:6:8", 0.5));
        edges.add(RowFactory.create(id, "F:1:6:8", "TARGET", 1.2));
        edges.add(RowFactory.create(id, "F:0:3:3", "TARGET", 0.3));
      } else if ("fibroblast".equals(type)) {
        nodes.add(node(id, type, "T:2", "token", null, 2, null, "DCN", 0.3, 0.4));
        nodes.add(node(id, type, "T:3", "token", null, 3, null, "COL1A1", 0.1, 0.1));
        nodes.add(node(id, type, "F:0:2:5", "feature", 0, 2, 5, null, 0.4, 0.6));
        edges.add(RowFactory.create(id, "T:2", "F:0:2:5", 0.9));
        edges.add(RowFactory.create(id, "T:3", "F:0:2:5", -0.2));
        edges.add(RowFactory.create(id, "F:0:2:5", "TARGET", 1.0));
      }
    }
    List<Row> summary = List.of(
        RowFactory.create("endothelial cell", "gene", 1, "VWF", null, null, 2L, 2L, 1.0, 1.0, 0.5, 0.25),
        RowFactory.create("endothelial cell", "gene", 2, "PECAM1", null, null, 2L, 2L, 1.0, 0.5, 0.25, 0.12),
        RowFactory.create("endothelial cell", "feature", 1, null, 0, 3, 2L, 2L, 1.0, 1.0, 0.5, 0.3),
        RowFactory.create("endothelial cell", "feature", 2, null, 1, 8, 2L, 2L, 1.0, 0.8, 0.4, 0.25),
        RowFactory.create("fibroblast", "gene", 1, "DCN", null, null, 2L, 2L, 1.0, 0.8, 0.4, 0.3),
        RowFactory.create("fibroblast", "feature", 1, null, 0, 5, 2L, 2L, 1.0, 1.2, 0.6, 0.4));
    commit(root, "circuits", Map.of(CircuitsJob.GRAPHS_TABLE, frame(graphs, CircuitsJob.GRAPHS_SCHEMA),
        CircuitsJob.NODES_TABLE, frame(nodes, CircuitsJob.NODES_SCHEMA),
        CircuitsJob.EDGES_TABLE, frame(edges, CircuitsJob.EDGES_SCHEMA),
        CircuitsJob.SUMMARY_TABLE, frame(summary, CircuitsJob.SUMMARY_SCHEMA)));
  }

  private static void commitEvaluate(RunRoot root) throws Exception {
    List<Row> summary = List.of(
        RowFactory.create("original", null, 0.05, 2.1, 0.0, 0.0, 0.98, 56L, 56L, 56L, 11000L),
        RowFactory.create("replaced_all", null, 0.0963, 2.3, 0.12, 0.08, 0.945, 56L, 56L, 56L, 11000L));
    List<Row> layers = List.of(RowFactory.create(0, "transcoder", 1024, 0.93, 3.9, 0.71, 11000L, 0.07, 2.2, 0.03));
    commit(root, "evaluate", Map.of(EvaluateJob.SUMMARY_TABLE, frame(summary, EvaluateJob.SUMMARY_SCHEMA),
        EvaluateJob.LAYERS_TABLE, frame(layers, EvaluateJob.LAYERS_SCHEMA)));
  }

  private static Row feature(int layer, int feature, String label, String labelKind, String[] genes, String topType,
      double tau) {
    Row example = RowFactory.create("e1", "endothelial cell", 3, genes[0], 2, 4.5f);
    return RowFactory.create(layer, feature, "transcoder", 120L, 0.01, genes[0], 0.7, genes, 0.9, topType, tau,
        new TreeMap<>(Map.of(topType, 2.0, "other", 0.1)), 0.05, 0.1, label, labelKind, genes, new Row[] {example},
        topType, new String[] {genes[0]}, 1e-5, 1e-4);
  }

  /** The interpret attempt as the stage leaves it before the report: features/, the table, validation/summary. */
  private static String interpretAttempt(Path dir) throws Exception {
    String attempt = dir.resolve("interpret/attempt-test").toUri().toString();
    List<Row> features = List.of(
        feature(0, 3, "gene:VWF", "gene", new String[] {"VWF", "PECAM1"}, "endothelial cell", 0.9),
        feature(1, 8, "celltype:endothelial cell", "celltype", new String[] {"PECAM1", "CDH5"}, "endothelial cell",
            0.95),
        feature(0, 5, "gene:DCN", "gene", new String[] {"DCN", "LUM"}, "fibroblast", 0.8),
        feature(2, 9, "celltype:fibroblast", "celltype", new String[] {"COL1A1"}, "fibroblast", 0.85),
        feature(3, 1, "dead", "dead", new String[] {"X"}, "fibroblast", 0.99),
        feature(3, 2, "unlabelled", "unlabelled", new String[] {"Y"}, "fibroblast", 0.1));
    frame(features, InterpretJob.FEATURES_SCHEMA).write().parquet(attempt + "/" + InterpretJob.FEATURES_TABLE);
    Files.writeString(Path.of(java.net.URI.create(attempt)).resolve(InterpretJob.TABLE_FILE),
        "layer 0: live 3, gene-level at 0.50: 66.7% of live\n");
    StructType validation = new StructType().add("cell_type", "string", true).add("kind", "string", false)
        .add("cells", "long", false).add("units", "long", false).add("spearman", "double", true)
        .add("changed_share", "double", false).add("mean_logprob_drop", "double", false);
    frame(List.of(RowFactory.create("endothelial cell", "gene", 2L, 10L, 0.83, 0.5, 1.25),
        RowFactory.create("fibroblast", "feature", 2L, 10L, null, 0.0, 0.4)), validation)
        .write().parquet(attempt + "/" + ReportJob.VALIDATION_SUMMARY);
    return attempt;
  }

  private static org.apache.spark.sql.Dataset<Row> frame(List<Row> rows, StructType schema) {
    return spark.createDataFrame(rows, schema).coalesce(1);
  }

  private static void commit(RunRoot root, String stage, Map<String, org.apache.spark.sql.Dataset<Row>> tables)
      throws Exception {
    StageSpec spec = new StageSpec(stage, ConfigFactory.parseString(stage + ".fixture = report"), Map.of());
    StageCommitter.run(root, spec, true, attemptDir -> {
      Map<String, Long> counts = new TreeMap<>();
      for (Map.Entry<String, org.apache.spark.sql.Dataset<Row>> t : tables.entrySet()) {
        t.getValue().write().parquet(attemptDir + "/" + t.getKey());
        counts.put(t.getKey(), t.getValue().count());
      }
      return StageResult.of(counts);
    });
  }

  // -------------------------------------------------------------------------------------------------------- tests

  @Test
  void writesTheReportAndItRendersInChromium() throws Exception {
    RunRoot root = RunRoot.of(tmp.resolve("run").toString(), spark.sparkContext().hadoopConfiguration());
    commitCircuits(root);
    commitEvaluate(root);
    String attempt = interpretAttempt(tmp.resolve("run"));

    long files = ReportJob.write(spark, root, attempt);

    Path report = Path.of(java.net.URI.create(attempt)).resolve(ReportJob.REPORT_DIR);
    List<String> written;
    try (Stream<Path> s = Files.walk(report)) {
      written = s.filter(Files::isRegularFile).map(p -> report.relativize(p).toString()).sorted().toList();
    }
    // pages for the circuits' features (L0 #3, L1 #8, L0 #5) and the live ones most specific to a type (L2 #9, L3 #2:
    // fibroblast has only three live features, all in its top 5); none for the dead L3 #1
    assertThat(written).containsExactlyInAnyOrder("index.html", "assets/echarts.min.js", "assets/echarts-LICENSE.txt",
        "assets/circuit.js", "assets/report.css", "celltypes/endothelial-cell.html", "celltypes/fibroblast.html",
        "celltypes/unannotated.html", "features/L0-F3.html", "features/L0-F5.html", "features/L1-F8.html",
        "features/L2-F9.html", "features/L3-F2.html");
    assertThat(files).isEqualTo(written.size());
    Pattern link = Pattern.compile("(?:src|href)=\"([^\"]*)\"");
    for (String f : written) {
      if (f.endsWith(".html")) {
        Matcher m = link.matcher(Files.readString(report.resolve(f)));
        while (m.find()) {
          assertThat(m.group(1)).as("a link in %s", f).doesNotStartWith("http://").doesNotStartWith("https://")
              .doesNotStartWith("//");
        }
      }
    }

    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      HeadlessChromium.PageResult index = chromium.open(report.resolve("index.html"),
          ReportBrowserTest.SCREENSHOTS.resolve("e2e-index.png"));
      assertThat(index.errors()).isEmpty();
      assertThat(index.text()).contains("replaced_all").contains("0.0963").contains("gene-level at 0.50: 66.7%")
          .contains("0.83").contains("Cell types (3)").doesNotContain("not run");

      HeadlessChromium.PageResult endo = chromium.open(report.resolve("celltypes/endothelial-cell.html"),
          ReportBrowserTest.SCREENSHOTS.resolve("e2e-endothelial-cell.png"));
      assertThat(endo.errors()).isEmpty();
      assertThat(endo.text()).containsAnyOf("VWF", "PECAM1");
      assertThat(endo.canvases()).isGreaterThanOrEqualTo(1);
      // what ECharts drew: the pieces merged into one node per gene, features by (layer, feature), the logit
      JsonArray names = chromium.evaluate("(() => { const d = echarts.getInstanceByDom("
          + "document.getElementById('circuit')).getModel().getSeriesByIndex(0).getData();"
          + " const out = []; for (let i = 0; i < d.count(); i++) out.push(d.getName(i)); return out; })()")
          .getAsJsonArray();
      List<String> drawn = new ArrayList<>();
      for (JsonElement e : names) {
        drawn.add(e.getAsString());
      }
      assertThat(drawn).containsExactly("G:PECAM1", "G:VWF", "F:0:3", "F:1:8", "LOGIT");
      // hover on L1 #8 shows its label and top genes
      assertThat(chromium.evaluate("JSON.parse(document.getElementById('circuit-data').textContent)"
          + ".nodes.find(n => n.name === 'F:1:8').tip").getAsString())
          .contains("label: celltype:endothelial cell").contains("top genes: PECAM1, CDH5");

      HeadlessChromium.PageResult feature = chromium.open(report.resolve("features/L0-F3.html"),
          ReportBrowserTest.SCREENSHOTS.resolve("e2e-feature-L0-F3.png"));
      assertThat(feature.errors()).isEmpty();
      assertThat(feature.text()).contains("gene:VWF").contains("endothelial cell");
    }
  }

  @Test
  void stagesThatDidNotRunAreSaidNotRun() throws Exception {
    RunRoot root = RunRoot.of(tmp.resolve("bare").toString(), spark.sparkContext().hadoopConfiguration());
    String attempt = tmp.resolve("bare/interpret/attempt-x").toUri().toString();
    frame(List.of(feature(0, 3, "gene:VWF", "gene", new String[] {"VWF"}, "endothelial cell", 0.9)),
        InterpretJob.FEATURES_SCHEMA).write().parquet(attempt + "/" + InterpretJob.FEATURES_TABLE);

    assertThat(ReportJob.write(spark, root, attempt)).isEqualTo(6); // index, 4 assets, the one specific feature
    String index = Files.readString(Path.of(java.net.URI.create(attempt)).resolve("report/index.html"));
    assertThat(index).contains("evaluate stage not run").contains("validation not run")
        .contains("interpretability table not written").contains("circuits stage has not committed");
  }
}
