package org.cellcircuits.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.countDistinct;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;

/**
 * The per-cell-type summary of the circuits stage, in Spark SQL over the nodes and graphs it wrote: each input gene
 * and each feature of a type's pruned circuits, how often it is there and how much it carries; and the table printed
 * at the end of the stage.
 */
final class CircuitSummary {
  private CircuitSummary() {}

  /**
   * The {@code circuits/summary} rows ({@link CircuitsJob#SUMMARY_SCHEMA}).
   * <ul>
   *   <li>{@code kind = gene}: per (type, gene) over the type's cells; a gene's attribution in a cell is the sum over
   *       its tokens; {@code cells} counts the cells where one of its tokens has a kept edge. Ranked by total
   *       attribution (what pushes the model towards its answer, summed over the type's cells, so a gene that is
   *       there in few cells ranks low), ties by gene.
   *   <li>{@code kind = feature}: per (type, layer, feature); {@code cells} counts the cells whose pruned circuit keeps
   *       it. Ranked by cells, then total attribution.
   * </ul>
   * Means are over all the type's traced cells.
   */
  static Dataset<Row> summarise(Dataset<Row> nodes, Dataset<Row> graphs) {
    Dataset<Row> perType = graphs.groupBy(col("cell_type")).count().withColumnRenamed("count", "cells_of_type")
        .withColumnRenamed("cell_type", "t_cell_type");
    Dataset<Row> perCellGene = nodes.filter(col("kind").equalTo("token").and(col("gene").isNotNull()))
        .groupBy(col("cell_type"), col("cell_id"), col("gene"))
        .agg(sum("attribution").as("attribution"), sum("influence").as("influence"),
            max(col("in_circuit").cast(DataTypes.IntegerType)).as("in_circuit"));
    Dataset<Row> genes = perCellGene.groupBy(col("cell_type"), col("gene"))
        .agg(sum("in_circuit").cast(DataTypes.LongType).as("cells"), sum("attribution").as("total_attribution"),
            sum("influence").as("total_influence"))
        .withColumn("kind", lit("gene"))
        .withColumn("layer", lit(null).cast(DataTypes.IntegerType))
        .withColumn("feature", lit(null).cast(DataTypes.IntegerType));
    Dataset<Row> features = nodes.filter(col("kind").equalTo("feature"))
        .groupBy(col("cell_type"), col("layer"), col("feature"))
        .agg(countDistinct("cell_id").cast(DataTypes.LongType).as("cells"), sum("attribution").as("total_attribution"),
            sum("influence").as("total_influence"))
        .withColumn("kind", lit("feature"))
        .withColumn("gene", lit(null).cast(DataTypes.StringType));
    String[] columns = {"cell_type", "kind", "gene", "layer", "feature", "cells", "total_attribution",
        "total_influence"};
    Dataset<Row> both = genes.selectExpr(columns).unionByName(features.selectExpr(columns));
    Dataset<Row> joined = both.join(perType, both.col("cell_type").eqNullSafe(perType.col("t_cell_type")));
    // genes by total attribution, features by how many circuits keep them; ties as written
    var order = Window.partitionBy(col("cell_type"), col("kind"))
        .orderBy(when(col("kind").equalTo("gene"), col("total_attribution")).otherwise(col("cells").cast("double")).desc(),
            col("total_attribution").desc(), col("gene").asc(), col("layer").asc(), col("feature").asc());
    return joined.withColumn("rank", row_number().over(order))
        .withColumn("share", col("cells").divide(col("cells_of_type")))
        .withColumn("mean_attribution", col("total_attribution").divide(col("cells_of_type")))
        .withColumn("mean_influence", col("total_influence").divide(col("cells_of_type")))
        .select("cell_type", "kind", "rank", "gene", "layer", "feature", "cells", "cells_of_type", "share",
            "total_attribution", "mean_attribution", "mean_influence");
  }

  /** The printed table and the figures for the stage marker. */
  record Report(String table, Map<String, Double> stats) {}

  static Report report(Dataset<Row> graphs, Dataset<Row> summary, Map<String, List<String>> markers, int topGenes,
      double seconds) {
    List<Row> g = graphs.select("cell_type", "replacement_score", "completeness_score", "error_share",
        "ablation_top_drop", "ablation_random_drop").collectAsList();
    List<Row> top = summary.filter(col("kind").equalTo("gene").and(col("rank").leq(topGenes)))
        .select("cell_type", "rank", "gene").orderBy("cell_type", "rank").collectAsList();
    Map<String, double[]> perType = new TreeMap<>(); // cells, replacement, completeness, ablations, agreeing
    double[] all = new double[6];
    for (Row r : g) {
      String type = r.isNullAt(0) ? "(none)" : r.getString(0);
      double[] a = perType.computeIfAbsent(type, k -> new double[6]);
      for (double[] acc : new double[][] {a, all}) {
        acc[0]++;
        acc[1] += r.getDouble(1);
        acc[2] += r.getDouble(2);
        acc[3] += r.isNullAt(3) ? 0 : r.getDouble(3);
        if (!r.isNullAt(4)) {
          acc[4]++;
          acc[5] += r.getDouble(4) > r.getDouble(5) ? 1 : 0;
        }
      }
    }
    Map<String, List<String>> topByType = new LinkedHashMap<>();
    for (Row r : top) {
      topByType.computeIfAbsent(r.isNullAt(0) ? "(none)" : r.getString(0), k -> new ArrayList<>()).add(r.getString(2));
    }
    Map<String, Double> stats = new LinkedHashMap<>();
    StringBuilder t = new StringBuilder();
    t.append(String.format(Locale.ROOT, "  %-28s %5s %6s %6s %7s %8s  %s%n", "cell type", "cells", "repl", "compl",
        "causal", "markers", "top " + topGenes + " input genes (by total attribution)"));
    int withThree = 0;
    for (Map.Entry<String, double[]> e : perType.entrySet()) {
      double[] a = e.getValue();
      List<String> genes = topByType.getOrDefault(e.getKey(), List.of());
      List<String> planted = markers.get(e.getKey());
      String hits = "-";
      if (planted != null) {
        long h = genes.stream().filter(planted::contains).count();
        hits = h + "/" + genes.size();
        stats.put("markers_in_top_genes/" + e.getKey(), (double) h);
        withThree += h >= 3 ? 1 : 0;
      }
      t.append(String.format(Locale.ROOT, "  %-28s %5d %6.3f %6.3f %7s %8s  %s%n", e.getKey(), (long) a[0],
          a[1] / a[0], a[2] / a[0], a[4] == 0 ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * a[5] / a[4]), hits,
          String.join(" ", genes)));
    }
    double n = all[0];
    stats.put("cells", n);
    stats.put("cell_types", (double) perType.size());
    stats.put("mean_replacement_score", all[1] / n);
    stats.put("mean_completeness_score", all[2] / n);
    stats.put("mean_error_share", all[3] / n);
    if (all[4] > 0) {
      stats.put("causal_agreement", all[5] / all[4]);
    }
    if (!markers.isEmpty()) {
      stats.put("types_with_3_markers_in_top_genes", (double) withThree);
    }
    stats.put("seconds", seconds);
    stats.put("cells_per_s", n / seconds);
    t.append(String.format(Locale.ROOT, "  all: %d cells, replacement %.3f, completeness %.3f, error share %.3f%s%s,"
            + " %.1f s (%.2f cells/s)%n", (long) n, all[1] / n, all[2] / n, all[3] / n,
        all[4] > 0 ? String.format(Locale.ROOT, ", causal agreement %.1f%% (top features zeroed lower the target more "
            + "than random ones)", 100 * all[5] / all[4]) : "",
        markers.isEmpty() ? "" : String.format(Locale.ROOT, ", %d of %d types with >= 3 markers in their top genes",
            withThree, perType.size()),
        seconds, n / seconds));
    return new Report(t.toString(), stats);
  }
}
