package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.io.RunRoot;

/**
 * Runs the notebook's queries ({@code notebooks/queries/*.sql}) on a run root, the views registered by
 * {@link RunTables} as the notebook registers them. {@link #checkDemo} is what the end-to-end demo test calls so that
 * the notebook's SQL runs in CI on the demo's real outputs.
 */
public final class NotebookQueries {
  /** The query folder, relative to the repository root (Maven runs tests there). */
  public static final Path FOLDER = Path.of("notebooks", "queries");

  private NotebookQueries() {}

  /**
   * Every query whose views are all registered, with these values for the params they declare (others keep their
   * defaults); a query that needs a value not given fails.
   *
   * @param values param name to value, shared by all queries (e.g. cell_type)
   * @return query name to its rows, in file order; queries reading a view that is not registered are left out
   */
  public static Map<String, List<Row>> runAll(SparkSession spark, Map<String, String> views, Map<String, ?> values)
      throws IOException {
    Map<String, List<Row>> out = new LinkedHashMap<>();
    for (NamedQuery q : NamedQuery.loadAll(FOLDER)) {
      if (!views.keySet().containsAll(q.reads())) {
        continue;
      }
      Map<String, Object> own = new LinkedHashMap<>();
      q.params().forEach(p -> {
        if (values.containsKey(p.name())) {
          own.put(p.name(), values.get(p.name()));
        }
      });
      out.put(q.name(), spark.sql(q.render(own)).collectAsList());
    }
    return out;
  }

  /**
   * Every query on a run root of the demo (jobs/demo, through the interpret stage): registers its tables, runs every
   * query for the endothelial cells (their top circuit feature for the feature queries, the first traced cell for the
   * edges) and checks that each answers something and that the endothelial features are the interpret stage's.
   * Validation queries run only when the interpret stage committed validation tables.
   *
   * @return query name to its rows
   */
  public static Map<String, List<Row>> checkDemo(SparkSession spark, RunRoot root) throws IOException {
    Map<String, String> views = RunTables.register(spark, root);
    assertThat(views).containsKeys("sentences", "train_log", "evaluate_evaluation_summary",
        "evaluate_evaluation_layers", "circuits_graphs", "circuits_nodes", "circuits_edges", "circuits_summary",
        "interpret_features");
    String cellType = "endothelial cell";
    Row top = spark.sql(NamedQuery.load(FOLDER.resolve("features_driving_cell_type.sql"))
        .render(Map.of("cell_type", cellType, "top", 1))).first();
    String cell = spark.sql("SELECT min(cell_id) FROM circuits_graphs").first().getString(0);
    Map<String, Object> values = Map.of("cell_type", cellType, "layer", top.getAs("layer"),
        "feature", top.getAs("feature"), "cell_id", cell);
    Map<String, List<Row>> results = runAll(spark, views, values);
    for (NamedQuery q : NamedQuery.loadAll(FOLDER)) {
      if (q.reads().stream().noneMatch(v -> v.startsWith("interpret_validation_"))
          || views.containsKey("interpret_validation_summary")) {
        assertThat(results).as("query %s ran on the demo", q.name()).containsKey(q.name());
      }
    }
    results.forEach((name, rows) -> assertThat(rows).as("rows of query %s on the demo", name).isNotEmpty());
    List<Row> endothelial = results.get("features_driving_cell_type");
    assertThat(endothelial).as("endothelial cell's top features").hasSizeGreaterThanOrEqualTo(3)
        .allSatisfy(r -> assertThat((String) r.getAs("label")).as("label of a circuit feature").isNotNull());
    assertThat(results.get("genes_feature_reads")).allSatisfy(r -> assertThat((String) r.getAs("gene")).isNotNull());
    return results;
  }
}
