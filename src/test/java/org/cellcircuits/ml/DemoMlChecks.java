package org.cellcircuits.ml;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.explode;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.harvest.ActivationSchema;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.jobs.CircuitsJob;
import org.cellcircuits.transcoder.ActivationScaling;
import org.cellcircuits.transcoder.Transcoder;

/**
 * What [mllib] shows on the demo run {@code DemoPipelineTest} makes: the Spark ML stages, given what a notebook user
 * would give them (the committed tables and folders), produce the CLI stages' rows. ({@code CellSentenceTransformer}
 * against the {@code sentences} stage on the demo atlas is {@code CellSentenceTransformerTest}.)
 */
public final class DemoMlChecks {
  /** float32's unit roundoff. */
  private static final double U = Math.scalb(1.0, -24);

  private DemoMlChecks() {}

  /**
   * {@link TranscoderModel} over layer {@code layer}'s harvested tokens gives, at every top example the {@code interpret}
   * stage recorded for the layer's features, the activation interpret recorded.
   *
   * <p>The bound: both compute a = s x . W[:, f] + b_f in float32, in batches of different sizes (so possibly in
   * different summation orders). For any order, |fl(a) - a| <= gamma_n M with M = sum_i |s x_i W_if| + |b_f| and
   * gamma_n = n u / (1 - n u), n = d_in + 2 terms and roundings (the d_in products, the sum, the bias; the input scale s
   * is one more product per term, covered by taking n = d_in + 2 with M over the scaled products) (Higham, Accuracy and
   * Stability of Numerical Algorithms, 2nd ed., eq. 3.5). Two such computations differ by at most 2 gamma_n M; the
   * activation is either the pre-activation itself or 0, and top examples are far above the threshold.
   *
   * @return the examples checked
   */
  public static int transcoderModelGivesInterpretsTopExamples(SparkSession spark, RunRoot run, int layer)
      throws java.io.IOException {
    String folder = run.committedPath("train", "transcoders/layer=" + layer).toString();
    TranscoderModel model = TranscoderModel.fromFolder("demo-layer-" + layer, folder,
        spark.sparkContext().hadoopConfiguration()).setInputCol(ActivationSchema.MLP_IN);
    List<Row> examples = spark.read().parquet(run.committedPath("interpret", "features").toString())
        .where(col("layer").equalTo(layer))
        .select(col("feature"), explode(col("top_examples")).as("e"))
        .select("feature", "e.cell_id", "e.pos", "e.activation").collectAsList();
    assertThat(examples).as("interpret's top examples of layer %d", layer).isNotEmpty();
    Set<String> tokens = new HashSet<>();
    for (Row e : examples) {
      tokens.add(e.getString(1) + "#" + e.getInt(2));
    }
    Column token = concat_ws("#", col(ActivationSchema.CELL_ID), col(ActivationSchema.POS));
    Dataset<Row> harvested = spark.read().parquet(run.committedPath("harvest", "activations/layer=" + layer).toString())
        .where(token.isin(tokens.toArray()))
        .select(ActivationSchema.CELL_ID, ActivationSchema.POS, ActivationSchema.MLP_IN);
    Map<String, Row> byToken = new HashMap<>();
    for (Row r : model.transform(harvested).collectAsList()) {
      byToken.put(r.getString(0) + "#" + r.getInt(1), r);
    }
    assertThat(byToken).as("harvested tokens of the top examples").hasSize(tokens.size());

    try (Transcoder t = model.transcoder(Device.cpu())) {
      int dIn = t.config().dIn();
      int dSae = t.config().dSae();
      float[] wEnc = t.weight("W_enc").toFloatArray(); // (d_in, d_sae)
      float[] bEnc = t.weight("b_enc").toFloatArray();
      ActivationScaling scaling = t.scaling();
      double s = scaling.folded() ? 1.0 : scaling.input();
      int n = dIn + 2;
      double gamma = n * U / (1 - n * U);
      int inputAt = 2;
      float[] x = new float[dIn];
      int featuresAt = byToken.values().iterator().next().fieldIndex(model.getFeaturesCol());
      List<String> misses = new ArrayList<>();
      for (Row e : examples) {
        int f = e.getInt(0);
        Row r = byToken.get(e.getString(1) + "#" + e.getInt(2));
        ActivationValues.read(r, inputAt, ActivationSchema.MLP_IN, dIn, x, 0);
        double m = Math.abs(bEnc[f]);
        for (int i = 0; i < dIn; i++) {
          m += Math.abs(s * x[i] * wEnc[i * dSae + f]);
        }
        double bound = 2 * gamma * m;
        double got = ((Vector) r.get(featuresAt)).apply(f);
        double want = e.getFloat(3);
        if (!(Math.abs(got - want) <= bound)) {
          misses.add(String.format("feature %d at %s token %d: model %s, interpret %s, bound %.3g", f,
              e.getString(1), e.getInt(2), got, want, bound));
        }
      }
      assertThat(misses).as("top examples where TranscoderModel and interpret disagree beyond 2 gamma_n M").isEmpty();
    }
    return examples.size();
  }

  /**
   * {@link CircuitTransformer}, set up as a notebook user would (the model folder, the run root, the reference
   * defaults) on a DataFrame of committed prompts, gives the committed {@code circuits} rows of those cells: graphs
   * (all but {@code seconds}, the wall time), nodes and edges.
   *
   * @return the cells compared
   */
  public static int circuitTransformerGivesTheStagesRows(SparkSession spark, RunRoot run, String modelPath,
      int cells) throws java.io.IOException {
    Dataset<Row> graphs = spark.read().parquet(run.committedPath("circuits", CircuitsJob.GRAPHS_TABLE).toString());
    List<String> ids = graphs.select("cell_id").orderBy("cell_id").limit(cells).collectAsList().stream()
        .map(r -> r.getString(0)).toList();
    Dataset<Row> sentences = spark.read().parquet(run.committedPath("sentences", "sentences").toString())
        .where(col("cell_id").isin(ids.toArray()));
    Dataset<Row> predictions = spark.read().parquet(run.committedPath("harvest", "predictions").toString())
        .select(col("cell_id").as("p_id"), col("predicted_cell_type"));
    Dataset<Row> prompts = sentences.join(predictions, sentences.col("cell_id").equalTo(predictions.col("p_id")))
        .select("cell_id", "cell_type", "genes", "prompt", "predicted_cell_type");
    Dataset<Row> out = new CircuitTransformer().setModelPath(modelPath).setRunRoot(run.uri())
        .transform(prompts.repartition(2)).cache();
    try {
      Column[] graphColumns = Arrays.stream(CircuitsJob.GRAPHS_SCHEMA.fieldNames()).filter(c -> !c.equals("seconds"))
          .map(org.apache.spark.sql.functions::col).toArray(Column[]::new);
      Column mine = col("cell_id").isin(ids.toArray());
      assertThat(rows(out.select(graphColumns))).as("graphs of %s", ids)
          .isEqualTo(rows(graphs.where(mine).select(graphColumns)));
      assertThat(rows(out.select(col("cell_id"), explode(col("circuit_nodes")).as("n")).select("cell_id", "n.*")))
          .as("nodes of %s", ids)
          .isEqualTo(rows(spark.read().parquet(run.committedPath("circuits", CircuitsJob.NODES_TABLE).toString())
              .where(mine)));
      assertThat(rows(out.select(col("cell_id"), explode(col("circuit_edges")).as("e")).select("cell_id", "e.*")))
          .as("edges of %s", ids)
          .isEqualTo(rows(spark.read().parquet(run.committedPath("circuits", CircuitsJob.EDGES_TABLE).toString())
              .where(mine)));
    } finally {
      out.unpersist();
    }
    return ids.size();
  }

  private static List<String> rows(Dataset<Row> df) {
    return df.collectAsList().stream().map(Row::toString).sorted().toList();
  }
}
