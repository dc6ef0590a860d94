package org.cellcircuits.ml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.model.Fp32Bounds;
import org.cellcircuits.transcoder.Activation;
import org.cellcircuits.transcoder.ArrayBatches;
import org.cellcircuits.transcoder.TrainOptions;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderTrainer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The estimator trains what the train stage's trainer trains on the same rows (bit for bit); the model's columns are
 * the transcoder's encode/decode; save/load (alone, in a Pipeline) gives identical outputs; bad params are named.
 * Data: 512 rows, d_in = d_out = 8, y = relu(A x) + c, from a seeded generator.
 */
class TranscoderEstimatorTest {
  private static final int ROWS = 512;
  private static final int D = 8;
  private static SparkSession spark;
  private static float[] x;
  private static float[] y;
  private static Dataset<Row> activations;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("TranscoderEstimatorTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    Random r = new Random(7);
    double[] a = new double[D * D];
    for (int i = 0; i < a.length; i++) {
      a[i] = r.nextGaussian() / Math.sqrt(D);
    }
    x = new float[ROWS * D];
    y = new float[ROWS * D];
    List<Row> rows = new ArrayList<>();
    for (int n = 0; n < ROWS; n++) {
      double[] xs = new double[D];
      double[] ys = new double[D];
      for (int j = 0; j < D; j++) {
        x[n * D + j] = (float) r.nextGaussian();
        xs[j] = x[n * D + j];
      }
      for (int i = 0; i < D; i++) {
        double v = 0.1 * i;
        for (int j = 0; j < D; j++) {
          v += a[i * D + j] * x[n * D + j];
        }
        y[n * D + i] = (float) Math.max(0, v);
        ys[i] = y[n * D + i];
      }
      rows.add(RowFactory.create((long) n, Vectors.dense(xs), Vectors.dense(ys)));
    }
    StructType schema = new StructType().add("token", DataTypes.LongType)
        .add("mlp_in", SQLDataTypes.VectorType()).add("mlp_out", SQLDataTypes.VectorType());
    activations = spark.createDataFrame(rows, schema).cache();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** 2 scaling batches + 8 steps of 64 rows: 640 rows, so the second epoch starts. */
  private static TranscoderEstimator estimator() {
    return new TranscoderEstimator().setModelName("synthetic").setLayer(3).setActivation("relu")
        .setExpansionFactor(2).setL1Coefficient(0.01).setL1WarmUpSteps(0).setLr(1e-2).setLrWarmUpSteps(0)
        .setLrDecaySteps(0).setTrainingTokens(ROWS).setTrainBatchSizeTokens(64).setScalingBatches(2).setSeed(11)
        .setMaxEpochs(2);
  }

  private static float[][] weights(Transcoder t) {
    List<String> names = Transcoder.parameterNames(t.config());
    float[][] w = new float[names.size()][];
    for (int i = 0; i < w.length; i++) {
      w[i] = t.weight(names.get(i)).toFloatArray();
    }
    return w;
  }

  @Test
  void fitTrainsTheWeightsTheTrainerTrainsOnTheSameRows() {
    TranscoderEstimator est = estimator();
    TranscoderConfig expectedConfig = TranscoderConfig.builder().modelName("synthetic").layer(3).dIn(D).dOut(D)
        .expansionFactor(2).l1Coefficient(0.01).l1WarmUpSteps(0).lr(1e-2).lrWarmUpSteps(0).lrDecaySteps(0)
        .trainingTokens(ROWS).trainBatchSizeTokens(64).scalingBatches(2).seed(11).build();
    TranscoderConfig config = est.transcoderConfig(D, D);
    assertThat(config.activation()).isEqualTo(Activation.RELU);
    assertThat(config).isEqualTo(expectedConfig);

    TranscoderModel model = est.fit(activations);
    float[][] direct;
    try (TranscoderTrainer trainer = TranscoderTrainer.create(expectedConfig, Device.cpu())) {
      trainer.train(new ArrayBatches(x, y, D, D, 64, true, "direct"), TrainOptions.logTo(s -> { }, "direct"));
      try (Transcoder t = trainer.transcoder(); Transcoder folded = t.folded()) {
        direct = weights(folded);
      }
    }
    try (Transcoder fitted = model.transcoder(Device.cpu())) {
      float[][] w = weights(fitted);
      assertThat(w.length).isEqualTo(direct.length);
      for (int i = 0; i < w.length; i++) {
        assertThat(w[i]).as("tensor %s", Transcoder.parameterNames(config).get(i)).containsExactly(direct[i]);
      }
    }
  }

  /** The activations in 4 partitions of a fixed order (parallelize keeps the list's order). */
  private static Dataset<Row> fourPartitions() {
    var jsc = org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext());
    return spark.createDataFrame(jsc.parallelize(activations.orderBy("token").collectAsList(), 4),
        activations.schema()).cache();
  }

  @Test
  void dataParallelFitReachesTheSameWeightsWithOneAndTwoWorkers() {
    Dataset<Row> parts = fourPartitions();
    TranscoderModel one = estimator().setDataParallelWorkers(1).setDataShards(4).setMicroBatchesPerSync(2).fit(parts);
    TranscoderModel two = estimator().setDataParallelWorkers(2).setDataShards(4).setMicroBatchesPerSync(2).fit(parts);
    TranscoderModel driver = estimator().fit(parts);
    try (Transcoder a = one.transcoder(Device.cpu()); Transcoder b = two.transcoder(Device.cpu());
        Transcoder d = driver.transcoder(Device.cpu())) {
      float[][] wa = weights(a);
      float[][] wb = weights(b);
      float[][] wd = weights(d);
      List<String> names = Transcoder.parameterNames(a.config());
      // As TrainStageTest's oneAndTwoDataParallelWorkersReachTheSameWeights: S = 8 Adam steps whose gradients are
      // summed in other orders (4 shards' sums added in one task or in two tasks and a treeReduce). Per step the
      // longest reduction chain is encode (d_in), decode (d_sae), the backward through the decoder (d_in), the sum
      // over the step's 64 rows and the micro-batch, shard and worker adds (4); Adam's update is homogeneous of
      // degree 0 in the gradient, so a relative gradient error rho moves it by at most ~2 rho lr. Over S steps at
      // lr = 1e-2: Fp32Bounds.deep(S * chain, S * lr), the S in the chain standing for earlier differences fed back
      // through later steps. Not a proof: it assumes no coordinate's gradient is as small as its own rounding.
      // Measured at 1 and 2 libtorch threads: W_enc 1.5e-8, b_enc 7.5e-9, W_dec 1.5e-8, b_dec 7.5e-9 against 7.6e-6
      // (was 1e-4 max(1, max|w|)).
      int steps = 8;
      int dSae = a.config().dSae();
      double bound = Fp32Bounds.deep((long) steps * (2 * D + dSae + 64 + 4), steps * 1e-2);
      double moved = 0;
      for (int i = 0; i < wa.length; i++) {
        double maxAbs = 0;
        double maxDiff = 0;
        for (int j = 0; j < wa[i].length; j++) {
          maxAbs = Math.max(maxAbs, Math.abs(wa[i][j]));
          maxDiff = Math.max(maxDiff, Math.abs(wa[i][j] - wb[i][j]));
          moved = Math.max(moved, Math.abs(wa[i][j] - wd[i][j]));
        }
        assertThat(maxDiff).as("%s: max |1 worker - 2 workers| (max |w| %s, bound %.2e)", names.get(i), maxAbs, bound)
            .isLessThanOrEqualTo(bound);
      }
      // The shards cut the batches differently from the driver's stream, so the weights differ from its fit.
      assertThat(moved).as("data-parallel against driver-side weights").isGreaterThan(1e-6);
    }
    // Both describe the same run: the distribution params are the estimator's, copied to the model's parent.
    assertThat(two.parent().getOrDefault(two.parent().getParam("dataParallelWorkers"))).isEqualTo(2);
  }

  @Test
  void dataParallelFitNamesWhatCannotBeCut() {
    assertThatThrownBy(() -> estimator().setDataParallelWorkers(2).setDataShards(2).fit(activations.coalesce(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dataShards = 2 shards of whole partitions, but it has 1 partition(s)");
    assertThatThrownBy(() -> estimator().setDataParallelWorkers(2).setDataShards(3).fit(fourPartitions()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("data-shards is 3; it must be a multiple of data-parallel-workers (2)");
  }

  @Test
  void transformAddsTheTranscodersFeaturesAndReconstruction() {
    TranscoderModel model = estimator().fit(activations);
    List<Row> out = model.transform(activations).orderBy("token").collectAsList();
    float[] z;
    float[] rec;
    try (Transcoder t = model.transcoder(Device.cpu()); NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray xs = m.create(x, new Shape(ROWS, D));
      NDArray zs = t.encode(xs);
      z = zs.toFloatArray();
      rec = t.decode(zs, xs).toFloatArray();
    }
    int dSae = model.config().dSae();
    // The same transcoder in batches of 256 rows per partition against one batch of 512: the matmuls may block
    // differently by batch size, so each entry is bounded by encodeBounds/decodeBounds (twoOrders over d_in + 1 and
    // d_sae + 1 terms). Measured max |difference| at 1 and 2 libtorch threads: features 0, reconstruction 0 (the
    // batches gave the same bits here) (was 1e-5 each).
    double[] zBound;
    double[] yBound;
    try (Transcoder t = model.transcoder(Device.cpu())) {
      zBound = encodeBounds(t, x, ROWS);
      yBound = decodeBounds(t, z, zBound, ROWS);
    }
    long active = 0;
    double zErr = 0;
    double yErr = 0;
    for (int n = 0; n < ROWS; n++) {
      Row r = out.get(n);
      Vector f = r.getAs("features");
      assertThat(f).isInstanceOf(SparseVector.class);
      assertThat(f.size()).isEqualTo(dSae);
      for (int j = 0; j < dSae; j++) {
        zErr = Math.max(zErr, Math.abs(f.apply(j) - z[n * dSae + j]));
        assertThat(f.apply(j)).as("row %d feature %d", n, j).isCloseTo(z[n * dSae + j],
            org.assertj.core.data.Offset.offset(zBound[n * dSae + j]));
        assertThat(f.apply(j) != 0).as("row %d feature %d active", n, j).isEqualTo(z[n * dSae + j] != 0);
      }
      active += ((SparseVector) f).indices().length;
      Vector y1 = r.getAs("reconstruction");
      for (int k = 0; k < D; k++) {
        yErr = Math.max(yErr, Math.abs(y1.apply(k) - rec[n * D + k]));
        assertThat(y1.apply(k)).as("row %d output %d", n, k).isCloseTo(rec[n * D + k],
            org.assertj.core.data.Offset.offset(yBound[n * D + k]));
      }
    }
    assertThat(active).as("some features fire, not all").isBetween(1L, (long) ROWS * dSae - 1);
  }

  /**
   * Per entry, how far two fp32 encodes of the same rows in other summation orders (another batch size, thread
   * count) can be apart: z = relu(x W_enc + b_enc) is a sum of d_in products and the bias, so within
   * Fp32Bounds.twoOrders(d_in + 1, sum_j |x_j W_jk| + |b_k|), and relu is 1-Lipschitz. Folded weights, no skip
   * path (checked), so x enters unscaled.
   */
  private static double[] encodeBounds(Transcoder t, float[] xs, int rows) {
    assertThat(t.scaling().folded()).as("folded transcoder").isTrue();
    assertThat(t.config().skipConnection()).as("skip path").isFalse();
    int dIn = t.config().dIn();
    int dSae = t.config().dSae();
    float[] w = t.weight("W_enc").toFloatArray();
    float[] b = t.weight("b_enc").toFloatArray();
    double[] bound = new double[rows * dSae];
    for (int n = 0; n < rows; n++) {
      for (int k = 0; k < dSae; k++) {
        double sumAbs = Math.abs(b[k]);
        for (int j = 0; j < dIn; j++) {
          sumAbs += Math.abs((double) xs[n * dIn + j] * w[j * dSae + k]);
        }
        bound[n * dSae + k] = Fp32Bounds.twoOrders(dIn + 1, sumAbs);
      }
    }
    return bound;
  }

  /**
   * Per entry, how far two fp32 decodes y = z W_dec + b_dec can be apart when their z differ by at most zBound:
   * Fp32Bounds.twoOrders(d_sae + 1, sum_j (|z_j| + zBound_j) |W_jk| + |b_k|) for the sum's own order, plus
   * sum_j |W_jk| zBound_j carried from the features.
   */
  private static double[] decodeBounds(Transcoder t, float[] zs, double[] zBound, int rows) {
    int dSae = t.config().dSae();
    int dOut = t.config().dOut();
    float[] w = t.weight("W_dec").toFloatArray();
    float[] b = t.weight("b_dec").toFloatArray();
    double[] bound = new double[rows * dOut];
    for (int n = 0; n < rows; n++) {
      for (int k = 0; k < dOut; k++) {
        double sumAbs = Math.abs(b[k]);
        double carried = 0;
        for (int j = 0; j < dSae; j++) {
          double wjk = Math.abs((double) w[j * dOut + k]);
          sumAbs += (Math.abs(zs[n * dSae + j]) + zBound[n * dSae + j]) * wjk;
          carried += zBound[n * dSae + j] * wjk;
        }
        bound[n * dOut + k] = Fp32Bounds.twoOrders(dSae + 1, sumAbs) + carried;
      }
    }
    return bound;
  }

  @Test
  void saveLoadAloneAndInAPipelineGivesIdenticalOutputs(@TempDir Path dir) throws IOException {
    TranscoderModel model = estimator().fit(activations);
    List<Row> before = model.transform(activations).orderBy("token").collectAsList();
    model.save(dir.resolve("model").toString());
    assertThat(dir.resolve("model/metadata/part-00000")).exists();
    assertThat(dir.resolve("model/data/cfg.json")).exists();
    assertThat(dir.resolve("model/data/weights.safetensors")).exists();
    assertThat(Files.readString(dir.resolve("model/data/cfg.json"))).contains("\"d_sae\"");
    TranscoderModel loaded = TranscoderModel.load(dir.resolve("model").toString());
    assertThat(loaded.uid()).isEqualTo(model.uid());
    assertThat(loaded.config()).isEqualTo(model.config());
    assertThat(loaded.transform(activations).orderBy("token").collectAsList()).isEqualTo(before);

    TranscoderEstimator est = estimator();
    est.save(dir.resolve("estimator").toString());
    TranscoderEstimator estBack = TranscoderEstimator.load(dir.resolve("estimator").toString());
    assertThat(estBack.transcoderConfig(D, D)).isEqualTo(est.transcoderConfig(D, D));

    PipelineModel pipeline = new Pipeline().setStages(new PipelineStage[] {estBack}).fit(activations);
    List<Row> fromPipeline = pipeline.transform(activations).orderBy("token").collectAsList();
    assertThat(fromPipeline).isEqualTo(before);
    pipeline.save(dir.resolve("pipeline").toString());
    PipelineModel pipelineBack = PipelineModel.load(dir.resolve("pipeline").toString());
    assertThat(pipelineBack.transform(activations).orderBy("token").collectAsList()).isEqualTo(before);
  }

  @Test
  void readsTheHarvestsFp16Columns() {
    TranscoderModel model = estimator().fit(activations);
    List<Row> rows = new ArrayList<>();
    for (Row r : activations.orderBy("token").limit(20).collectAsList()) {
      Vector v = r.getAs("mlp_in");
      byte[] b = new byte[2 * D];
      double[] rounded = new double[D];
      for (int j = 0; j < D; j++) {
        short h = org.cellcircuits.harvest.HalfFloats.toFp16((float) v.apply(j));
        b[2 * j] = (byte) h;
        b[2 * j + 1] = (byte) (h >> 8);
        rounded[j] = org.cellcircuits.harvest.HalfFloats.fromFp16(h);
      }
      rows.add(RowFactory.create(r.getLong(0), b, Vectors.dense(rounded)));
    }
    StructType schema = new StructType().add("token", DataTypes.LongType).add("mlp_in", DataTypes.BinaryType)
        .add("mlp_in_vec", SQLDataTypes.VectorType());
    Dataset<Row> df = spark.createDataFrame(rows, schema);
    List<Row> fromBinary = model.transform(df).orderBy("token").collectAsList();
    List<Row> fromVector = model.copy(new org.apache.spark.ml.param.ParamMap()).setInputCol("mlp_in_vec")
        .transform(df.drop("mlp_in")).orderBy("token").collectAsList();
    for (int i = 0; i < rows.size(); i++) {
      assertThat((Vector) fromBinary.get(i).getAs("features")).isEqualTo(fromVector.get(i).getAs("features"));
      assertThat((Vector) fromBinary.get(i).getAs("reconstruction"))
          .isEqualTo(fromVector.get(i).getAs("reconstruction"));
    }
  }

  @Test
  void badParamsAndColumnsAreNamed() {
    TranscoderEstimator est = estimator();
    assertThatThrownBy(() -> est.setK(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter k given invalid value 0");
    assertThatThrownBy(() -> est.setActivation("gelu")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter activation given invalid value gelu");
    assertThatThrownBy(() -> est.setLr(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter lr given invalid value -1");
    assertThatThrownBy(() -> estimator().fit(activations.drop("mlp_out")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("targetCol: column 'mlp_out' does not exist");
    assertThatThrownBy(() -> estimator().setInputCol("token").fit(activations))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inputCol: column 'token' must be of type");
    assertThatThrownBy(() -> estimator().setLrWarmUpSteps(100).fit(activations))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("train.lr-warm-up-steps (100) + train.lr-decay-steps (0) exceed the run's 8 steps");
  }

  private static final String FIXTURE = "src/test/resources/ml/transcoder-model-0.1.0";

  /** Saved by the first build with this class: metadata/ plus the train stage's data/ folder. */
  @Test
  void loadsAModelSavedByAnEarlierBuild() {
    TranscoderModel model = TranscoderModel.load(FIXTURE);
    assertThat(model.config().layer()).isEqualTo(3);
    assertThat(model.config().dIn()).isEqualTo(D);
    assertThat(model.config().dSae()).isEqualTo(16);
    assertThat(model.getFeaturesCol()).isEqualTo("features");
    List<Row> out = model.transform(activations).orderBy("token").limit(3).collectAsList();
    try (Transcoder t = model.transcoder(Device.cpu()); NDManager m = NDManager.newBaseManager(Device.cpu())) {
      float[] z = t.encode(m.create(java.util.Arrays.copyOf(x, D), new Shape(1, D))).toFloatArray();
      Vector f = out.get(0).getAs("features");
      // One row alone against the same row in a partition's batch: encodeBounds (twoOrders over d_in + 1 terms).
      // Measured max |difference| at 1 and 2 libtorch threads: 3.0e-8 (was 1e-6).
      double[] bound = encodeBounds(t, x, 1);
      double err = 0;
      for (int j = 0; j < z.length; j++) {
        err = Math.max(err, Math.abs(f.apply(j) - z[j]));
        assertThat(f.apply(j)).as("feature %d", j).isCloseTo(z[j], org.assertj.core.data.Offset.offset(bound[j]));
      }
    }
  }

  /** Writes that fixture: {@code -Dml.writeFixtures=true}. */
  @Test
  @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "ml.writeFixtures", matches = "true")
  void writeFixture() throws IOException {
    estimator().fit(activations).write().overwrite().save(FIXTURE);
  }
}
