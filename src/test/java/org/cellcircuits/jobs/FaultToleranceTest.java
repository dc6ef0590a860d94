package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.harvest.HarvestTaskHook;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageLease;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.sentences.SentencesTaskHook;
import org.cellcircuits.transcoder.TrainCrashHook;
import org.cellcircuits.transcoder.TrainingCheckpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults in the middle of {@code sentences}, {@code harvest} and {@code train} on the shrunk demo, each stage's
 * committed output compared with an uninterrupted run of the same config: every row of every table (as multisets, so
 * a duplicate or a lost row shows) and train's weights byte for byte.
 *
 * <ul>
 *   <li>A task lost after writing part of its output, on its first attempt only: Spark retries it
 *       ({@code local[2,4]}) and the stage must keep only the successful attempt's files.
 *   <li>The driver SIGKILLed mid-stage (a child JVM held once a task has written output), then the stage rerun: the
 *       dead run's lease is taken over, its attempt deleted, train resumes from the dead run's checkpoint.
 * </ul>
 *
 * <p>An executor process killed under {@code local-cluster} would be closer to a lost executor, but that mode starts
 * executors from a Spark distribution ({@code SPARK_HOME/jars}), which a Maven build does not have.
 */
@Tag("e2e")
class FaultToleranceTest {
  /**
   * The demo shrunk to seconds: 48 cells in 3 sentence ranges and 3 harvest tasks; two layers trained side by side for
   * 12 steps of 256 tokens, checkpoints every 4 steps, resampling at step 5 (so resuming must restore its state too).
   */
  private static final List<String> SMALL = List.of("sentences.max-cells=48", "sentences.rows-per-partition=16",
      "harvest.cells-per-task=16", "train.layers=[0, 1]", "train.training-tokens=3072",
      "train.train-batch-size-tokens=256", "train.max-epochs=3", "train.checkpoint-every-steps=4",
      "train.lr-warm-up-steps=3", "train.lr-decay-steps=6", "train.l1-warm-up-steps=3", "train.scaling-batches=4",
      "train.dead-feature-window-tokens=1024", "train.resample-interval-steps=5", "train.batchtopk-threshold-rate=0.5",
      "train.shuffle-buffer-rows=1024");
  /**
   * The rerun takes over the killed driver's lease once its heartbeat is older than this: small, so the test waits
   * seconds, not the 10-minute default. Not part of any stage's config hash.
   */
  private static final String LEASE_TIMEOUT = "run.lease-timeout=1s";
  private static final List<String> STAGES = List.of("sentences", "harvest", "train");
  /** Columns that measure time, not results. */
  private static final Pattern TIMING = Pattern.compile(".*(second|per_s|_s$|_ms$|time|wall).*");
  private static final Duration MID_WORK_DEADLINE = Duration.ofMinutes(3);

  @TempDir static Path tmp;
  private static SparkSession spark;
  private static RunRoot whole;

  @BeforeAll
  static void runUninterrupted() throws Exception {
    // Four attempts per task, as a cluster's spark.task.maxFailures: a task that fails once is retried.
    spark = SparkSession.builder().master("local[2,4]").appName("FaultToleranceTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    whole = root("whole");
    for (String stage : STAGES) {
      assertThat(run(whole, stage).status()).isEqualTo(StageOutcome.Status.COMMITTED);
    }
  }

  @AfterAll
  static void stop() {
    spark.stop();
    ExecutorModels.clear();
  }

  @Test
  void tasksLostOnTheirFirstAttemptAreRetriedAndEachStageCommitsTheUninterruptedRows() throws Exception {
    RunRoot root = root("retried");
    List<String> fired = new CopyOnWriteArrayList<>();
    // Each hook fails one task's first attempt after that task wrote output the retry writes again.
    try (SentencesTaskHook hook = SentencesTaskHook.afterRangeFile((tc, range) -> {
      if (range == 1 && tc.attemptNumber() == 0) {
        fired.add("sentences");
        throw new IllegalStateException("simulated loss of the task of range 1 after writing its file");
      }
    })) {
      run(root, "sentences");
    }
    try (HarvestTaskHook hook = HarvestTaskHook.afterPartition(tc -> {
      if (tc.partitionId() == 1 && tc.attemptNumber() == 0) {
        fired.add("harvest");
        throw new IllegalStateException("simulated loss of harvest task 1 after writing its files");
      }
    })) {
      run(root, "harvest");
    }
    List<String> layer1Checkpoints = new CopyOnWriteArrayList<>();
    try (TrainCrashHook hook = TrainCrashHook.afterCheckpoint((tc, step) -> {
      if (tc.partitionId() == 1) {
        layer1Checkpoints.add("attempt " + tc.attemptNumber() + " step " + step);
        if (tc.attemptNumber() == 0 && step == 4) {
          fired.add("train");
          throw new IllegalStateException("simulated loss of layer 1's task after its step-4 checkpoint");
        }
      }
    })) {
      run(root, "train");
    }
    assertThat(fired).as("each stage lost one task once").containsExactly("sentences", "harvest", "train");
    assertThat(layer1Checkpoints).as("the retry resumed from the step-4 checkpoint, not from step 0")
        .startsWith("attempt 0 step 4", "attempt 1 step 8").doesNotContain("attempt 1 step 4");
    for (String stage : STAGES) {
      assertSameCommittedOutput(stage, root);
      assertOnlyTheCommittedAttemptIsLeft(stage, root);
    }
  }

  @Test
  void aDriverKilledMidStageIsTakenOverAndTheRerunCommitsTheUninterruptedRowsOnce() throws Exception {
    RunRoot root = root("killed");
    for (String stage : STAGES) {
      Path log = tmp.resolve("killed-" + stage + ".log");
      Process child = startHeld(stage, root, log);
      try {
        awaitMidWork(stage, root, child, log);
      } finally {
        child.destroyForcibly();
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("the killed child exits").isTrue();
      }
      // 128 + 9: the JVM died of SIGKILL, so no shutdown hook released the lease or cleaned up.
      assertThat(child.exitValue()).as("exit status of the child, killed with destroyForcibly").isEqualTo(137);
      assertThat(root.committed(stage)).as("%s: no marker from the killed run", stage).isEmpty();
      Optional<StageLease.Observed> dead = StageLease.observe(root, stage);
      assertThat(dead).as("%s: the killed run's lease is left behind", stage).isPresent();
      // train writes its attempt folder only at the end; until then its work is in its checkpoints
      assertThat(attempts(stage, root)).as("%s: the killed run's attempt", stage)
          .hasSize(stage.equals("train") ? 0 : 1);

      Duration timeout = RunSettings.from(config(root)).leaseTimeout();
      long deadline = System.nanoTime() + timeout.multipliedBy(10).toNanos();
      while (!StageLease.observe(root, stage).map(o -> o.staleAfter(timeout)).orElse(true)) {
        assertThat(System.nanoTime()).as("%s: the dead lease goes stale", stage).isLessThan(deadline);
        Thread.sleep(100);
      }
      List<Long> rerunCheckpoints = new CopyOnWriteArrayList<>();
      try (TrainCrashHook hook = TrainCrashHook.afterCheckpoint((tc, step) -> {
        if (tc.partitionId() == 0) {
          rerunCheckpoints.add(step);
        }
      })) {
        assertThat(run(root, stage).status()).as("%s rerun", stage).isEqualTo(StageOutcome.Status.COMMITTED);
      }
      if (stage.equals("train")) {
        assertThat(rerunCheckpoints).as("layer 0 resumed from the killed run's step-4 checkpoint")
            .isNotEmpty().doesNotContain(4L);
      }
      assertSameCommittedOutput(stage, root);
      assertOnlyTheCommittedAttemptIsLeft(stage, root);
      assertThat(run(root, stage).status()).as("%s: committed once; a third run skips", stage)
          .isEqualTo(StageOutcome.Status.SKIPPED);
    }
  }

  /** The launcher's main in a child JVM on the test classpath, one of the stage's tasks held once it wrote output. */
  private static Process startHeld(String stage, RunRoot root, Path log) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // The test JVM's own flags: the --add-opens Spark needs, DJL offline, one libtorch thread (as surefire's argLine),
    // so that the checkpoint the child leaves is the one this JVM would have written.
    cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect") || a.startsWith("-Dai.djl"))
        .toList());
    cmd.addAll(List.of("-Xmx2g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-cp", System.getProperty("java.class.path"), HeldStageLauncher.class.getName(), stage, stage,
        "--config", "conf/demo.conf", "--root", root.uri(), "--set", "run.spark.master=local[2]",
        "--set", "run.spark.conf.\"spark.ui.enabled\"=false",
        "--set", LEASE_TIMEOUT));
    for (String s : SMALL) {
      cmd.add("--set");
      cmd.add(s);
    }
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /**
   * Until the held child has demonstrably written part of the stage: an output file in its attempt folder (sentences,
   * harvest) or a published checkpoint (train), with the lease held.
   */
  private static void awaitMidWork(String stage, RunRoot root, Process child, Path log) throws Exception {
    long deadline = System.nanoTime() + MID_WORK_DEADLINE.toNanos();
    while (true) {
      if (StageLease.observe(root, stage).isPresent() && wroteSome(stage, root)) {
        return;
      }
      assertThat(child.isAlive()).as("%s: the child died before it was held mid-stage; its log:%n%s", stage,
          tail(log)).isTrue();
      assertThat(System.nanoTime()).as("%s: mid-stage within %s; the child's log:%n%s", stage, MID_WORK_DEADLINE,
          tail(log)).isLessThan(deadline);
      Thread.sleep(100);
    }
  }

  private static boolean wroteSome(String stage, RunRoot root) throws IOException {
    if (stage.equals("train")) {
      return new TrainingCheckpoints(root.stagePath("train") + "/checkpoints").latest(0, root.hadoop()).isPresent();
    }
    FileSystem fs = root.fileSystem();
    for (org.apache.hadoop.fs.Path attempt : attempts(stage, root)) {
      RemoteIterator<LocatedFileStatus> files = fs.listFiles(attempt, true);
      while (files.hasNext()) {
        String name = files.next().getPath().getName();
        if (name.endsWith(".parquet") && !name.startsWith(".")) {
          return true;
        }
      }
    }
    return false;
  }

  private static String tail(Path log) throws IOException {
    List<String> lines = Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }

  private static List<org.apache.hadoop.fs.Path> attempts(String stage, RunRoot root) throws IOException {
    return Stream.of(root.fileSystem().listStatus(root.stagePath(stage))).map(FileStatus::getPath)
        .filter(p -> p.getName().startsWith(RunRoot.ATTEMPT_PREFIX)).toList();
  }

  /** Marker, committed attempt, and for train nothing else (its checkpoints are deleted after the commit). */
  private static void assertOnlyTheCommittedAttemptIsLeft(String stage, RunRoot root) throws IOException {
    List<String> names = Stream.of(root.fileSystem().listStatus(root.stagePath(stage)))
        .map(s -> s.getPath().getName()).filter(n -> !n.startsWith(".")).sorted().toList();
    assertThat(names).as("%s folder after the commit", stage).containsExactly(RunRoot.MARKER,
        RunRoot.ATTEMPT_PREFIX + root.requireCommitted(stage).attemptId());
  }

  /**
   * The stage's committed tables equal the uninterrupted run's: row counts in the markers and on disk, every Parquet
   * row (timing columns left out) as a multiset, every other file (train's weights) byte for byte.
   */
  private static void assertSameCommittedOutput(String stage, RunRoot root) throws IOException {
    StageMarker expected = whole.requireCommitted(stage);
    StageMarker actual = root.requireCommitted(stage);
    assertThat(actual.rowCounts()).as("%s row counts", stage).isEqualTo(expected.rowCounts());
    for (Map.Entry<String, Long> table : expected.rowCounts().entrySet()) {
      String what = stage + "/" + table.getKey();
      Map<String, byte[]> want = files(whole, whole.committedPath(stage, table.getKey()));
      Map<String, byte[]> got = files(root, root.committedPath(stage, table.getKey()));
      if (want.keySet().stream().anyMatch(n -> n.endsWith(".parquet"))) {
        Dataset<Row> a = comparable(spark.read().parquet(whole.committedPath(stage, table.getKey()).toString()));
        Dataset<Row> b = comparable(spark.read().parquet(root.committedPath(stage, table.getKey()).toString()));
        assertThat(b.count()).as("%s rows", what).isEqualTo(a.count());
        assertThat(b.exceptAll(a).count()).as("%s rows not in the uninterrupted run", what).isZero();
        assertThat(a.exceptAll(b).count()).as("%s rows of the uninterrupted run missing", what).isZero();
        continue;
      }
      assertThat(got.keySet()).as("%s files", what).isEqualTo(want.keySet());
      want.forEach((name, bytes) -> {
        if (!name.endsWith(".json")) { // cfg.json and the like name the attempt and the time
          assertThat(got.get(name)).as("%s/%s bytes", what, name).isEqualTo(bytes);
        }
      });
    }
  }

  private static Dataset<Row> comparable(Dataset<Row> d) {
    return d.drop(Stream.of(d.columns()).filter(c -> TIMING.matcher(c).matches()).toArray(String[]::new));
  }

  /** A table's files by path below it; checksums and Spark's _SUCCESS left out. */
  private static Map<String, byte[]> files(RunRoot root, org.apache.hadoop.fs.Path table) throws IOException {
    FileSystem fs = root.fileSystem();
    Map<String, byte[]> out = new TreeMap<>();
    String prefix = fs.makeQualified(table).toString();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(table, true);
    while (it.hasNext()) {
      org.apache.hadoop.fs.Path p = it.next().getPath();
      if (p.getName().endsWith(".crc") || p.getName().equals("_SUCCESS")) {
        continue;
      }
      String name = p.toString().substring(Math.min(prefix.length(), p.toString().length()));
      try (InputStream in = fs.open(p)) {
        out.put(name.isEmpty() ? p.getName() : name, in.readAllBytes());
      }
    }
    return out;
  }

  private static RunRoot root(String name) throws IOException {
    return RunRoot.of(tmp.resolve(name).toString(), spark.sparkContext().hadoopConfiguration());
  }

  private static com.typesafe.config.Config config(RunRoot root) {
    List<String> sets = new ArrayList<>(SMALL);
    sets.add("run.root=" + root.uri());
    sets.add(LEASE_TIMEOUT);
    return ConfigLoader.load(Path.of("conf/demo.conf"), sets);
  }

  private static StageOutcome run(RunRoot root, String stage) throws Exception {
    try (StageRunner runner = new StageRunner(StageRegistry.defaults(), config(root), s -> spark, false)) {
      return runner.run(stage);
    }
  }
}
