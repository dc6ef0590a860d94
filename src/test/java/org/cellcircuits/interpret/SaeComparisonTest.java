package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.harvest.HarvestFixtures;
import org.cellcircuits.io.InputFingerprints;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.jobs.InterpretJob;
import org.cellcircuits.jobs.InterpretabilityComparison;
import org.cellcircuits.jobs.StageRegistry;
import org.cellcircuits.jobs.StageRunner;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.runtime.ExecutorTranscoders;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transcoders and SAEs side by side on one harvest: the real train stage, briefly, with {@code train.kind =
 * transcoder} under one run root and {@code train.kind = sae} under a second root holding a copy of the first's
 * committed sentences and harvest (a copied harvest is accepted: upstream fingerprints are the attempt id and config
 * hash, not the location), then the interpret stage on each; the two tables carry their kind and their counts agree
 * with each stage's own figures.
 */
class SaeComparisonTest {
  @TempDir static Path dir;
  private static SparkSession spark;
  private static Path model;

  /** 12 steps of 128 tokens at 2x expansion, as the train stage's own test. */
  private static final List<String> SETTINGS = List.of("train.expansion-factor=2", "train.training-tokens=1536",
      "train.train-batch-size-tokens=128", "train.lr=1e-3", "train.lr-warm-up-steps=2", "train.lr-decay-steps=4",
      "train.scaling-batches=2", "train.shuffle-buffer-rows=512", "train.max-epochs=4", "train.device=cpu",
      "harvest.cells-per-task=8", "interpret.batch-size=64", "interpret.device=cpu", "interpret.top-examples=3",
      // no knockout check, so no circuits: an SAE run cannot have them
      "interpret.validation.cells-per-type=0");

  @BeforeAll
  static void start() throws Exception {
    spark = SparkSession.builder().master("local[2]").appName("SaeComparisonTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    model = HarvestFixtures.model(dir.resolve("model"), HarvestFixtures.TINY, 11);
  }

  @AfterAll
  static void stop() {
    spark.stop();
    ExecutorModels.clear();
    ExecutorTranscoders.clear();
  }

  private static Config config(Path root, String kind) {
    List<String> all = new ArrayList<>(SETTINGS);
    all.add("train.kind=" + kind);
    return HarvestFixtures.config(root.toString(), model, all.toArray(new String[0]));
  }

  private static StageOutcome run(Config config, String stage) throws Exception {
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config, s -> spark, false)) {
      return runner.run(stage);
    }
  }

  @Test
  void transcodersAndSaesOnOneHarvestGiveTablesOfTheirKindWithTheStagesCounts() throws Exception {
    Path tcDir = dir.resolve("transcoder");
    Path saeDir = dir.resolve("sae");
    RunRoot tcRoot = RunRoot.of(tcDir.toString(), spark.sparkContext().hadoopConfiguration());
    HarvestFixtures.commitSentences(spark, tcRoot, HarvestFixtures.cells(30, 4));
    assertThat(run(config(tcDir, "transcoder"), "harvest").status()).isEqualTo(StageOutcome.Status.COMMITTED);
    for (String stage : List.of("sentences", "harvest")) {
      org.apache.commons.io.FileUtils.copyDirectory(tcDir.resolve(stage).toFile(), saeDir.resolve(stage).toFile());
    }
    RunRoot saeRoot = RunRoot.of(saeDir.toString(), spark.sparkContext().hadoopConfiguration());

    Map<String, RunRoot> roots = new LinkedHashMap<>();
    roots.put("transcoder", tcRoot);
    roots.put("sae", saeRoot);
    Map<String, InterpretabilityComparison.Run> runs = new LinkedHashMap<>();
    for (Map.Entry<String, RunRoot> e : roots.entrySet()) {
      Path root = e.getKey().equals("sae") ? saeDir : tcDir;
      Config config = config(root, e.getKey());
      assertThat(run(config, "train").status()).as("train %s", e.getKey()).isEqualTo(StageOutcome.Status.COMMITTED);
      StageOutcome interpret = run(config, "interpret");
      assertThat(interpret.status()).isEqualTo(StageOutcome.Status.COMMITTED);
      // no circuits under either root: without the knockout check the stage neither needs nor reads them
      assertThat(e.getValue().committed("circuits")).isEmpty();
      assertThat(new org.cellcircuits.jobs.InterpretStage().upstream(config)).containsExactly("sentences", "harvest",
          "train");
      assertThat(interpret.marker().rowCounts()).containsKey("report")
          .doesNotContainKey(org.cellcircuits.jobs.ValidationJob.KNOCKOUTS_TABLE);
      runs.put(e.getKey(), InterpretabilityComparison.read(e.getValue()));
      assertAgreesWithTheStage(e.getKey(), e.getValue(), interpret.marker(), runs.get(e.getKey()));
    }
    // the same harvest under both roots: train read the same committed attempt
    StageMarker harvest = tcRoot.requireCommitted("harvest");
    for (RunRoot root : roots.values()) {
      assertThat(root.requireCommitted("train").inputs())
          .containsEntry(InputFingerprints.stageKey("harvest"), InputFingerprints.ofStage(harvest));
    }
    InterpretabilityComparison.Run tc = runs.get("transcoder");
    InterpretabilityComparison.Run sae = runs.get("sae");
    assertThat(tc.kinds()).containsExactly("transcoder");
    assertThat(sae.kinds()).containsExactly("sae");
    assertThat(sae.byLayer().keySet()).isEqualTo(tc.byLayer().keySet()).hasSize(HarvestFixtures.TINY.numLayers());
    String printed = InterpretabilityComparison.format(runs);
    assertThat(printed).contains("kinds {transcoder=transcoder, sae=sae}", "\nlayer 0\n", "\nall layers\n")
        .containsPattern("\ngene_level_at_0\\.50 transcoder=[0-9.]+ sae=[0-9.]+\n$");
  }

  /** The comparison's tables against the stage's marker stats and its features table. */
  private static void assertAgreesWithTheStage(String kind, RunRoot root, StageMarker marker,
      InterpretabilityComparison.Run run) {
    Map<String, Double> stats = marker.stats();
    List<Row> rows = spark.read().parquet(root.uri() + "/interpret/" + marker.attemptFolder() + "/"
        + InterpretJob.FEATURES_TABLE).select("kind").distinct().collectAsList();
    assertThat(rows).extracting(r -> r.getString(0)).as("kind column of %s", kind).containsExactly(kind);
    long liveAll = 0;
    for (Map.Entry<Integer, InterpretabilityTable> e : run.byLayer().entrySet()) {
      String p = "layer_" + e.getKey() + "_";
      InterpretabilityTable.Row atHalf = e.getValue().at(0.5);
      assertThat((double) atHalf.liveFeatures()).as("%s live features of layer %d", kind, e.getKey())
          .isEqualTo(stats.get(p + "live_features"));
      assertThat(atHalf.share()).as("%s gene-level share of layer %d", kind, e.getKey())
          .isCloseTo(stats.get(p + "gene_level_share"), within(1e-12));
      // a feature gene-level at a threshold is gene-level at every lower one
      List<InterpretabilityTable.Row> r = e.getValue().rows();
      for (int i = 1; i < r.size(); i++) {
        assertThat(r.get(i).geneLevelFeatures()).isLessThanOrEqualTo(r.get(i - 1).geneLevelFeatures());
      }
      liveAll += atHalf.liveFeatures();
    }
    assertThat((double) liveAll).isEqualTo(stats.get("live_features"));
    assertThat(run.all().at(0.5).share()).isCloseTo(stats.get("gene_level_share"), within(1e-12));
  }
}
