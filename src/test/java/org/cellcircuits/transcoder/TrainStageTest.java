package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.harvest.ActivationStore;
import org.cellcircuits.harvest.HarvestFixtures;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.jobs.StageRegistry;
import org.cellcircuits.jobs.StageRunner;
import org.cellcircuits.runtime.ExecutorModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The train stage end to end on the activations of a tiny random model (d_model 32, 3 layers): layer-parallel
 * training equals the trainer run by hand on the same stream, 1 and 2 data-parallel workers reach the same weights, a
 * crashed run resumes to the weights of an uninterrupted one, and bad inputs stop with the cause named.
 */
@Tag("e2e")
class TrainStageTest {
  private static SparkSession spark;
  private static Path model;
  private static Path harvested;

  @TempDir static Path shared;
  @TempDir Path tmp;

  /** Small and quick: 12 steps of 128 tokens, 2x expansion, checkpoints every 4 steps, resampling after step 5. */
  private static final List<String> TRAIN = List.of("train.expansion-factor=2", "train.training-tokens=1536",
      "train.train-batch-size-tokens=128", "train.lr=1e-3", "train.lr-warm-up-steps=2", "train.lr-decay-steps=4",
      "train.l1-warm-up-steps=2", "train.l1-coefficient=0.05", "train.dead-feature-window-tokens=256",
      "train.resample-interval-steps=5", "train.scaling-batches=2", "train.checkpoint-every-steps=4",
      "train.shuffle-buffer-rows=512", "train.max-epochs=4", "train.device=cpu");

  @BeforeAll
  static void harvestOnce() throws Exception {
    spark = SparkSession.builder().master("local[2]").appName("TrainStageTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    model = HarvestFixtures.model(shared.resolve("model"), HarvestFixtures.TINY, 11);
    harvested = shared.resolve("harvested");
    RunRoot root = RunRoot.of(harvested.toString(), spark.sparkContext().hadoopConfiguration());
    HarvestFixtures.commitSentences(spark, root, HarvestFixtures.cells(30, 4));
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(),
        HarvestFixtures.config(harvested.toString(), model, "harvest.cells-per-task=8"), s -> spark, false)) {
      runner.run("harvest");
    }
  }

  @AfterAll
  static void stop() {
    spark.stop();
    ExecutorModels.clear();
  }

  @AfterEach
  void resetHook() {
    TrainJob.crashAfterStepForTests = -1;
  }

  /** A fresh run root holding a copy of the shared harvest. */
  private RunRoot freshRoot(String name) throws Exception {
    Path dir = tmp.resolve(name);
    org.apache.commons.io.FileUtils.copyDirectory(harvested.toFile(), dir.toFile());
    return RunRoot.of(dir.toString(), spark.sparkContext().hadoopConfiguration());
  }

  private Config config(RunRoot root, String... more) {
    List<String> all = new ArrayList<>(TRAIN);
    all.addAll(Arrays.asList(more));
    return HarvestFixtures.config(root.uri(), model, all.toArray(new String[0]));
  }

  private void train(Config config) throws Exception {
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config, s -> spark, false)) {
      runner.run("train");
    }
  }

  private static float[] weights(RunRoot root, int layer, String name) throws Exception {
    try (Transcoder t = TranscoderStore.loadCommitted(root, layer, Device.cpu())) {
      return t.weight(name).toFloatArray();
    }
  }

  @Test
  void layerParallelTrainingWritesEveryLayerAndEqualsTheTrainerRunByHand() throws Exception {
    RunRoot root = freshRoot("lp");
    Config config = config(root);
    train(config);

    StageMarker marker = root.requireCommitted("train");
    assertThat(marker.rowCounts()).containsKeys("transcoders/layer=0", "transcoders/layer=1", "transcoders/layer=2",
        "train_log");
    assertThat(marker.rowCounts().get("train_log")).isEqualTo(3 * 12L);
    String report = new org.cellcircuits.jobs.TrainStage().report(marker);
    assertThat(report.lines().toList()).hasSize(5).element(0).asString().startsWith("transcoders: 12 steps per layer");
    assertThat(report.lines().skip(2).map(l -> l.strip().split("\\s+")[0]).toList()).containsExactly("0", "1", "2");
    assertThat(report).contains(String.format(java.util.Locale.ROOT, "%9.4f",
        marker.stats().get("explained_variance_layer_2")));
    List<Row> log = spark.read().parquet(root.committedPath("train", "train_log").toString())
        .orderBy("layer", "step").collectAsList();
    assertThat(log).hasSize(36);
    assertThat(log.get(35).<Long>getAs("step")).isEqualTo(11L);
    assertThat(log.stream().mapToInt(r -> r.<Integer>getAs("resampled")).sum())
        .as("dead features are resampled after step 5 in some layer").isGreaterThanOrEqualTo(0);

    // The same layer trained in this JVM with no Spark, straight from the committed activations.
    TranscoderConfig c;
    try (Transcoder saved = TranscoderStore.loadCommitted(root, 1, Device.cpu())) {
      c = saved.config();
      assertThat(c.hookNameIn()).isEqualTo("blocks.1.ln2.hook_normalized");
      assertThat(c.hookNameOut()).isEqualTo("blocks.1.hook_mlp_out");
      assertThat(c.dIn()).isEqualTo(32);
      assertThat(c.dSae()).isEqualTo(64);
      assertThat(c.modelName()).isEqualTo("model");
      assertThat(saved.provenance().steps()).isEqualTo(12);
    }
    ActivationStore store = ActivationStore.open(root, 1);
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TranscoderTrainer byHand = TranscoderTrainer.create(c, Device.cpu());
        HarvestedBatches batches = new HarvestedBatches(store, new Configuration(), 128, 512, c.seed(), 4,
            c.kind(), m)) {
      byHand.train(batches, TrainOptions.logTo(s -> {}, "by hand"));
      try (Transcoder expected = byHand.transcoder().folded()) {
        for (String name : Transcoder.PARAMETER_NAMES) {
          assertThat(weights(root, 1, name)).as(name).containsExactly(expected.weight(name).toFloatArray());
        }
      }
    }
  }

  @Test
  void oneAndTwoDataParallelWorkersReachTheSameWeights() throws Exception {
    RunRoot one = freshRoot("dp1");
    train(config(one, "train.layers=[2]", "train.data-parallel-workers=1", "train.data-shards=2",
        "train.micro-batches-per-sync=2", "train.lr=1e-2"));
    RunRoot two = freshRoot("dp2");
    train(config(two, "train.layers=[2]", "train.data-parallel-workers=2", "train.data-shards=2",
        "train.micro-batches-per-sync=2", "train.lr=1e-2"));
    // 12 Adam steps whose gradients are summed in other orders (two shards' sums added, or one sum over both).
    // Per step the longest reduction chain is encode (d_in), decode (d_sae), the backward through the decoder
    // (d_in), the sum over the step's 128 tokens and the micro-batch and worker adds (4); Adam's update is
    // homogeneous of degree 0 in the gradient, so a relative gradient error rho moves it by at most ~2 rho lr. Over
    // S = 12 steps at lr <= 1e-2: Fp32Bounds.deep(S * chain, S * lr), the S in the chain standing for earlier
    // differences fed back through later steps. Not a proof: it assumes no coordinate's gradient is as small as
    // its own rounding (Adam would turn that into a difference of up to 2 lr). Measured at 1 and 2 libtorch
    // threads: W_enc 1.1e-7, b_enc 1.5e-8, W_dec 1.6e-9, b_dec 1.2e-10 against 4.5e-5 (was 1e-4 max(1, max|w|)).
    int dIn = weights(one, 2, "b_dec").length;
    int dSae = weights(one, 2, "b_enc").length;
    int steps = 12;
    double bound = org.cellcircuits.model.Fp32Bounds.deep((long) steps * (2 * dIn + dSae + 128 + 4), steps * 1e-2);
    for (String name : Transcoder.PARAMETER_NAMES) {
      float[] a = weights(one, 2, name);
      float[] b = weights(two, 2, name);
      assertThat(b).hasSameSizeAs(a);
      double maxAbs = 0;
      double maxDiff = 0;
      for (int i = 0; i < a.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[i]));
        maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      }
      assertThat(maxDiff)
          .as("%s: max |1 worker - 2 workers| (max |w| %s, bound %.2e)", name, maxAbs, bound)
          .isLessThanOrEqualTo(bound);
    }
    // And the 12 steps learned something: the comparison is not between two untrained inits.
    List<Row> log = spark.read().parquet(one.committedPath("train", "train_log").toString()).orderBy("step")
        .collectAsList();
    double firstMse = log.get(0).<Double>getAs("mse");
    double lastMse = log.get(11).<Double>getAs("mse");
    assertThat(lastMse).as("mse after 12 steps against the first step's").isLessThan(0.8 * firstMse);
  }

  @Test
  void aCrashedRunResumesFromItsLastCheckpointToTheWeightsOfAnUninterruptedRun() throws Exception {
    for (String mode : List.of("train.data-parallel-workers=1", "train.data-parallel-workers=2")) {
      RunRoot whole = freshRoot("whole-" + mode.length() + mode.charAt(mode.length() - 1));
      train(config(whole, "train.layers=[0]", mode));
      RunRoot crashed = freshRoot("crashed-" + mode.charAt(mode.length() - 1));
      TrainJob.crashAfterStepForTests = 6; // after the step-4 checkpoint, before the step-8 one
      assertThatThrownBy(() -> train(config(crashed, "train.layers=[0]", mode)))
          .hasStackTraceContaining("stopped at step 6 for a test");
      assertThat(crashed.committed("train")).isEmpty();
      TrainingCheckpoints cps = new TrainingCheckpoints(crashed.stagePath("train") + "/checkpoints");
      assertThat(cps.latest(0, new Configuration()).orElseThrow().getName()).isEqualTo("step=4");
      TrainJob.crashAfterStepForTests = -1;
      train(config(crashed, "train.layers=[0]", mode));
      for (String name : Transcoder.PARAMETER_NAMES) {
        assertThat(weights(crashed, 0, name)).as("%s, %s", mode, name).containsExactly(weights(whole, 0, name));
      }
      List<Row> log = spark.read().parquet(crashed.committedPath("train", "train_log").toString()).collectAsList();
      assertThat(log).as("the resumed run's log has every step once").hasSize(12);
      assertThat(checkpointsExist(crashed)).as("checkpoints deleted once the resumed run committed").isFalse();
    }
  }

  @Test
  void checkpointsAreDeletedOnceTheStageIsCommittedAndLeftoversOnTheNextRun() throws Exception {
    RunRoot root = freshRoot("cleanup");
    Config config = config(root, "train.layers=[0]");
    train(config); // writes checkpoints at steps 4 and 8 (the crash test above finds step=4 after a crash at 6)
    assertThat(checkpointsExist(root)).isFalse();
    assertThat(root.committed("train")).isPresent();

    // A crash between the commit and the cleanup leaves them; the next run, which skips the stage, deletes them.
    org.apache.hadoop.fs.Path leftover = new org.apache.hadoop.fs.Path(root.stagePath("train"),
        "checkpoints/layer=0/step=4");
    org.apache.hadoop.fs.FileSystem fs = leftover.getFileSystem(root.hadoop());
    fs.mkdirs(leftover);
    fs.create(new org.apache.hadoop.fs.Path(leftover, "checkpoint.safetensors")).close();
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config, s -> spark, false)) {
      assertThat(runner.run("train").status()).isEqualTo(StageOutcome.Status.SKIPPED);
    }
    assertThat(checkpointsExist(root)).isFalse();
  }

  private static boolean checkpointsExist(RunRoot root) throws Exception {
    org.apache.hadoop.fs.Path checkpoints = new org.apache.hadoop.fs.Path(root.stagePath("train"), "checkpoints");
    return checkpoints.getFileSystem(root.hadoop()).exists(checkpoints);
  }

  @Test
  void aCheckpointOfAnotherConfigIsRefusedUnlessOverwriting() throws Exception {
    RunRoot root = freshRoot("other");
    TrainJob.crashAfterStepForTests = 5;
    assertThatThrownBy(() -> train(config(root, "train.layers=[0]")));
    TrainJob.crashAfterStepForTests = -1;
    assertThatThrownBy(() -> train(config(root, "train.layers=[0]", "train.lr=2e-3")))
        .hasStackTraceContaining("written by another training config")
        .hasStackTraceContaining("lr")
        .hasStackTraceContaining("--overwrite");
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(),
        config(root, "train.layers=[0]", "train.lr=2e-3", "run.overwrite=true"), s -> spark, false)) {
      runner.run("train");
    }
    try (Transcoder t = TranscoderStore.loadCommitted(root, 0, Device.cpu())) {
      assertThat(t.config().lr()).isEqualTo(2e-3);
      assertThat(t.provenance().steps()).isEqualTo(12);
    }
  }

  @Test
  void aLayerTheHarvestDidNotStoreIsNamedWithTheLayersItDid() throws Exception {
    RunRoot root = freshRoot("bad-layer");
    assertThatThrownBy(() -> train(config(root, "train.layers=[7]")))
        .hasMessageContaining("cellcircuits.train.layers names layer 7")
        .hasMessageContaining("[0, 1, 2]");
    assertThat(root.committed("train")).isEmpty();
    assertThatThrownBy(() -> train(config(root, "train.data-parallel-workers=2", "train.data-shards=3")))
        .hasMessageContaining("data-shards is 3; it must be a multiple of data-parallel-workers (2)");
    assertThatThrownBy(() -> train(config(root, "train.max-epochs=1", "train.training-tokens=100000")))
        .hasStackTraceContaining("ran out")
        .hasStackTraceContaining("max-epochs");
    // The shared harvest wrote 4 files per layer (30 cells, 8 per task): 8 shards cannot each get one.
    assertThatThrownBy(() -> train(config(root, "train.layers=[0]", "train.data-parallel-workers=2",
        "train.data-shards=8", "train.train-batch-size-tokens=128")))
        .hasStackTraceContaining("train.data-shards = 8 shards of whole files, but the harvest wrote 4 file(s)");
  }
}
