package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.ml.linalg.Matrix;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.stat.Correlation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/**
 * MLlib's Spearman ({@code ml.stat.Correlation}, "spearman") against {@link ValidationSummary#spearman}
 * (commons-math3) on the same pairs, ties included: the same statistic. The summary keeps its own because it needs one
 * correlation per (cell type, kind) group, which {@code Correlation.corr} gives only as one Spark job per group (it
 * correlates the columns of a whole Dataset; it has no groupBy form), over a few hundred pairs already on the driver.
 */
class MllibSpearmanTest {
  @Test
  void mllibSpearmanEqualsTheSummarysOnTheSamePairsWithTies() {
    SparkSession spark = SparkSession.builder().master("local[1]").appName("MllibSpearmanTest")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      Random random = new Random(3);
      int n = 300;
      double[] attribution = new double[n];
      double[] drop = new double[n];
      List<Row> rows = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        attribution[i] = Math.round(random.nextGaussian() * 4) / 4.0;   // many ties
        drop[i] = i % 5 == 0 ? 0.0 : attribution[i] * 0.5 + random.nextGaussian();
        rows.add(RowFactory.create(Vectors.dense(attribution[i], drop[i])));
      }
      StructType schema = new StructType().add("pair", SQLDataTypes.VectorType());
      Row result = Correlation.corr(spark.createDataFrame(rows, schema), "pair", "spearman").head();
      Matrix m = result.getAs(0);
      double ours = ValidationSummary.spearman(attribution, drop);
      assertThat(m.apply(0, 1)).as("MLlib's rho vs commons-math3's").isCloseTo(ours, within(1e-12));
    } finally {
      spark.stop();
    }
  }
}
