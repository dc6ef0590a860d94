package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.cellcircuits.io.CanonicalConfig;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageLease;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.jobs.StageRunner.SparkProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line through picocli's API, with two toy stages registered by the test. */
class CellCircuitsTest {
  private static SparkSession spark;
  private static final AtomicInteger TOY_WRITES = new AtomicInteger();
  private static final AtomicInteger DOUBLE_WRITES = new AtomicInteger();

  /** The project's reference config plus the toy stages' sections. */
  private static final Config REFERENCE = ConfigLoader.reference().withFallback(ConfigFactory.parseString(
      "cellcircuits.toy {\n  # rows to write. Default: 100\n  rows = 100\n"
          + "  # a model folder the stage reads (\"\" = none). Default: \"\"\n  model = \"\"\n}\n"
          + "cellcircuits.double {\n  # factor. Default: 2\n  factor = 2\n}\n"));

  private static final SparkProvider NO_SPARK = settings -> {
    throw new AssertionError("this command must not start Spark");
  };

  @TempDir Path tmp;
  private String root;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("CellCircuitsTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @BeforeEach
  void reset() {
    TOY_WRITES.set(0);
    DOUBLE_WRITES.set(0);
    root = tmp.resolve("run").toString();
  }

  /** Writes ids 0..rows-1. */
  static final class ToyStage implements Stage {
    @Override public String name() { return "toy"; }
    @Override public String description() { return "writes numbers"; }
    @Override public List<String> upstream() { return List.of(); }

    @Override
    public Map<String, String> externalInputs(Config all) {
      String model = all.getString("cellcircuits.toy.model");
      return model.isEmpty() ? Map.of() : Map.of("model", model);
    }

    @Override
    public StageResult write(StageContext ctx, String attemptDir) {
      TOY_WRITES.incrementAndGet();
      long rows = ctx.config().getLong("cellcircuits.toy.rows");
      ctx.spark().range(rows).write().parquet(attemptDir + "/numbers");
      return StageResult.of(Map.of("numbers", rows));
    }
  }

  /** Reads the toy stage's committed numbers and writes them times the factor. */
  static final class DoubleStage implements Stage {
    @Override public String name() { return "double"; }
    @Override public String description() { return "multiplies numbers"; }
    @Override public List<String> upstream() { return List.of("toy"); }

    @Override
    public StageResult write(StageContext ctx, String attemptDir) throws Exception {
      DOUBLE_WRITES.incrementAndGet();
      long factor = ctx.config().getLong("cellcircuits.double.factor");
      var in = ctx.spark().read().parquet(ctx.root().committedPath("toy", "numbers").toString());
      in.select(functions.col("id").multiply(factor).as("id")).write().parquet(attemptDir + "/doubled");
      return StageResult.of(Map.of("doubled", in.count()));
    }
  }

  /** Writes the toy numbers; its after-commit work records whether the stage's lease was held while it ran. */
  static final class CleanupStage implements Stage {
    static final List<String> LEASE_DURING_CLEANUP = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override public String name() { return "toy"; }
    @Override public String description() { return "writes numbers, then cleans up"; }
    @Override public List<String> upstream() { return List.of(); }

    @Override
    public StageResult write(StageContext ctx, String attemptDir) {
      ctx.spark().range(3).write().parquet(attemptDir + "/numbers");
      return StageResult.of(Map.of("numbers", 3L));
    }

    @Override
    public void afterCommit(RunRoot root) throws java.io.IOException {
      LEASE_DURING_CLEANUP.add(StageLease.observe(root, "toy").isPresent() ? "held" : "free");
    }
  }

  /**
   * A job of two tasks: task 0 fails at once, task 1 finishes its work (LATE_TASK_MILLIS) before it notices it was
   * asked to stop, then records that it finished.
   */
  static final class LateTaskStage implements Stage {
    static final long LATE_TASK_MILLIS = 1500;
    static volatile Path finished;

    @Override public String name() { return "toy"; }
    @Override public String description() { return "fails in one task while another still runs"; }
    @Override public List<String> upstream() { return List.of(); }

    @Override
    public StageResult write(StageContext ctx, String attemptDir) {
      String record = finished.toString(); // a String: the task closure is serialized
      String started = record + ".started";
      new org.apache.spark.api.java.JavaSparkContext(ctx.spark().sparkContext())
          .parallelize(List.of(0, 1), 2).foreach(task -> {
            if (task == 0) {
              // fail only once the other task runs: on a busy machine it may not have started yet, and a job aborted
              // before it starts never runs it, which is not the case this test is about
              long deadline = System.nanoTime() + 30_000_000_000L;
              while (!Files.exists(Path.of(started)) && System.nanoTime() < deadline) {
                Thread.sleep(10);
              }
              throw new IllegalStateException("task 0 fails");
            }
            Files.writeString(Path.of(started), "running");
            Thread.sleep(LATE_TASK_MILLIS);
            Files.writeString(Path.of(record), "done");
          });
      throw new AssertionError("the job must fail");
    }
  }

  private int execute(StageRegistry registry, Config reference, SparkProvider provider, String... args) {
    CommandLine cli = CellCircuits.commandLine(registry, reference, provider, false);
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  private int toys(SparkProvider provider, String... args) {
    return execute(new StageRegistry(List.of(new ToyStage(), new DoubleStage())), REFERENCE, provider, args);
  }

  private int toys(String... args) {
    return toys(settings -> spark, args);
  }

  private RunRoot runRoot() throws Exception {
    return RunRoot.of(root, spark.sparkContext().hadoopConfiguration());
  }

  @Test
  void aFailedStageReturnsOnlyWhenItsOtherTasksHaveStopped() {
    LateTaskStage.finished = tmp.resolve("late-task-finished");
    long start = System.nanoTime();
    int code = execute(new StageRegistry(List.of(new LateTaskStage())), REFERENCE, settings -> spark, "toy",
        "--root", root);

    assertThat(code).as(out.toString()).isNotZero();
    assertThat(err.toString()).contains("task 0 fails");
    // Spark aborts the job as soon as task 0 fails; without waiting, the command would return ~1.5 s before the
    // other task is done (and that task could still write into a folder the next attempt deletes).
    assertThat(LateTaskStage.finished).as("the late task finished before the command returned").exists();
    assertThat((System.nanoTime() - start) / 1e6).isGreaterThanOrEqualTo(LateTaskStage.LATE_TASK_MILLIS);
  }

  @Test
  void afterCommitRunsBeforeTheLeaseIsReleasedAndNotWhileAnotherRunHoldsIt() throws Exception {
    CleanupStage.LEASE_DURING_CLEANUP.clear();
    StageRegistry registry = new StageRegistry(List.of(new CleanupStage()));

    assertThat(execute(registry, REFERENCE, settings -> spark, "toy", "--root", root)).as(err.toString()).isZero();
    // A second writer must not start while the cleanup still deletes: the lease is released only after it.
    assertThat(CleanupStage.LEASE_DURING_CLEANUP).containsExactly("held");
    assertThat(StageLease.observe(runRoot(), "toy")).isEmpty();

    // A clean skip takes no lease (it writes nothing) and still does the work, no other run being there.
    assertThat(execute(registry, REFERENCE, NO_SPARK, "toy", "--root", root)).as(err.toString()).isZero();
    assertThat(CleanupStage.LEASE_DURING_CLEANUP).containsExactly("held", "free");

    // While another run holds the lease, a skip leaves the work alone: it may delete what that run writes.
    try (StageLease other = StageLease.acquire(runRoot(), "toy", java.time.Duration.ofMinutes(10))) {
      assertThat(execute(registry, REFERENCE, NO_SPARK, "toy", "--root", root)).as(err.toString()).isZero();
    }
    assertThat(CleanupStage.LEASE_DURING_CLEANUP).containsExactly("held", "free");
  }

  @Test
  void aStageCommandTakesSetOverridesAndCommits() throws Exception {
    int code = toys("toy", "--root", root, "--set", "toy.rows=250");

    assertThat(code).as(err.toString()).isZero();
    StageMarker marker = runRoot().committed("toy").orElseThrow();
    assertThat(out.toString()).isEqualTo("toy: committed attempt " + marker.attemptId() + " (numbers=250)\n");
    assertThat(marker.rowCounts()).containsExactly(Map.entry("numbers", 250L));
    assertThat(marker.configJson()).isEqualTo("{\"toy\":{\"model\":\"\",\"rows\":250}}");
    assertThat(marker.configHash()).isEqualTo(CanonicalConfig.sha256Hex("{\"toy\":{\"model\":\"\",\"rows\":250}}"));
    assertThat(spark.read().parquet(runRoot().committedPath("toy", "numbers").toString()).count()).isEqualTo(250);
  }

  @Test
  void reportPrintsACommittedStagesReportAndNamesWhatIsMissing() throws Exception {
    assertThat(toys("report", "toy", "--root", root)).isEqualTo(1);
    assertThat(err.toString()).isEqualTo("report: stage toy has not committed under " + runRoot().uri() + "\n");
    assertThat(toys("report", "nosuch", "--root", root)).isEqualTo(2);
    assertThat(err.toString()).contains("report nosuch: no such stage; stages are [toy, double]");
    assertThat(toys("toy", "--root", root, "--set", "toy.rows=5")).isZero();
    out.getBuffer().setLength(0);
    assertThat(toys("report", "toy", "--root", root)).isZero();
    assertThat(out.toString()).isEqualTo("toy has no report\n");
    assertThat(TOY_WRITES).hasValue(1);
  }

  @Test
  void statusNamesAMissingRootUncommittedAttemptsAndOtherFoldersAndAlignsLongNames() throws Exception {
    assertThat(toys("status", "--root", root)).isEqualTo(1);
    assertThat(err.toString()).isEqualTo("status: no run root at " + runRoot().uri() + "\n");

    assertThat(toys("toy", "--root", root, "--set", "toy.rows=5")).isZero();
    // what a killed attempt and a resumable checkpoint leave behind
    Path stale = tmp.resolve("run/toy/attempt-20260101-000000-deadbeef/numbers");
    Files.createDirectories(stale);
    Files.write(stale.resolve("part-0.parquet"), new byte[1500]);
    Files.createDirectories(tmp.resolve("run/toy/checkpoints/layer=0"));
    Files.write(tmp.resolve("run/toy/checkpoints/layer=0/state.bin"), new byte[20]);
    out.getBuffer().setLength(0);
    assertThat(toys("status", "--root", root)).isZero();
    List<String> lines = out.toString().lines().toList();
    assertThat(lines).contains("    uncommitted attempt (crashed or running; the stage's next run deletes it) "
        + "attempt-20260101-000000-deadbeef: 1.5 KB, " + runRoot().stagePath("toy") + "/attempt-20260101-000000-deadbeef",
        "    folder checkpoints: 20 B, " + runRoot().stagePath("toy") + "/checkpoints", "  double     not committed");
    String committed = runRoot().requireCommitted("toy").attemptId();
    assertThat(lines).noneMatch(l -> l.contains("attempt-" + committed + ":"));
    assertThat(CellCircuits.humanBytes(999)).isEqualTo("999 B");
    assertThat(CellCircuits.humanBytes(321_400_000)).isEqualTo("321.4 MB");
  }

  @Test
  void configErrorsAreUsageErrorsAndWriteNothing() throws Exception {
    assertThat(toys("toy", "--root", root, "--set", "toy.rowz=5")).isEqualTo(2);
    assertThat(err.toString()).isEqualTo("toy: --set toy.rowz=5: unknown key cellcircuits.toy.rowz (not in "
        + "reference.conf); did you mean cellcircuits.toy.rows?\n");

    Path bad = Files.writeString(tmp.resolve("bad.conf"), "cellcircuits.toy.rows = many\n");
    assertThat(toys("toy", "--root", root, "--config", bad.toString())).isEqualTo(2);
    assertThat(err.toString()).contains(bad + " line 1: cellcircuits.toy.rows is a string; expected a number");

    assertThat(toys("toy", "--bogus")).isEqualTo(2);
    assertThat(err.toString()).contains("Unknown option: '--bogus'");
    assertThat(Files.exists(tmp.resolve("run"))).isFalse();
    assertThat(TOY_WRITES).hasValue(0);
  }

  @Test
  void runSkipsCommittedStagesRefusesChangedOnesAndOverwriteCascades() throws Exception {
    assertThat(toys("run", "--root", root)).as(err.toString()).isZero();
    assertThat(out.toString()).containsPattern("toy: committed attempt \\S+ \\(numbers=100\\)\n"
        + "double: committed attempt \\S+ \\(doubled=100\\)\n");
    StageMarker toy = runRoot().committed("toy").orElseThrow();

    // Everything committed: a rerun skips both stages and never starts Spark.
    out.getBuffer().setLength(0);
    assertThat(toys(NO_SPARK, "run", "--root", root)).as(err.toString()).isZero();
    assertThat(out.toString()).contains("toy: skipped, attempt " + toy.attemptId())
        .contains("double: skipped, attempt");
    assertThat(TOY_WRITES).hasValue(1);
    assertThat(DOUBLE_WRITES).hasValue(1);

    // A changed config refuses, naming the key, and changes nothing.
    assertThat(toys("run", "--root", root, "--set", "toy.rows=300")).isEqualTo(1);
    assertThat(err.toString()).contains("stage toy already committed attempt " + toy.attemptId())
        .contains("toy.rows: 100 -> 300").contains("--overwrite");
    assertThat(runRoot().committed("toy")).contains(toy);

    // With --overwrite the toy stage is rebuilt, and the double stage too, since its input changed.
    assertThat(toys("run", "--root", root, "--set", "toy.rows=300", "--overwrite")).as(err.toString()).isZero();
    assertThat(TOY_WRITES).hasValue(2);
    assertThat(DOUBLE_WRITES).hasValue(2);
    var doubled = spark.read().parquet(runRoot().committedPath("double", "doubled").toString());
    assertThat(doubled.count()).isEqualTo(300);
    assertThat(doubled.agg(functions.sum("id")).first().getLong(0)).isEqualTo(2L * (299 * 300 / 2));
  }

  @Test
  void planReportsEachStageWithoutStartingSpark() throws Exception {
    assertThat(toys(NO_SPARK, "run", "--plan", "--root", root)).as(err.toString()).isZero();
    assertThat(out.toString()).isEqualTo("run root " + runRoot().uri() + "\n"
        + "  toy        will run\n"
        + "  double     runs after toy\n");

    assertThat(toys("toy", "--root", root)).isZero();
    out.getBuffer().setLength(0);
    assertThat(toys(NO_SPARK, "run", "--plan", "--root", root, "--set", "double.factor=3")).isZero();
    assertThat(out.toString()).contains("  toy        up to date, will skip (rows {numbers=100})\n"
        + "  double     will run\n");
  }

  /** A model folder of three files, as a C2S checkpoint has. */
  private Path modelFolder(String name) throws Exception {
    Path model = Files.createDirectories(tmp.resolve(name));
    Files.writeString(model.resolve("config.json"), "{\"hidden_size\": 8}");
    Files.write(model.resolve("model.safetensors"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    Files.writeString(model.resolve("tokenizer.json"), "{}");
    return model;
  }

  /** Copies a folder tree, giving every file a new modification time (as cp without -p or an upload does). */
  private static void copyTree(Path from, Path to) throws Exception {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path f : files.toList()) {
        Path target = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(target);
        } else {
          Files.copy(f, target);
          Files.setLastModifiedTime(target, java.nio.file.attribute.FileTime.fromMillis(1_800_000_000_000L));
        }
      }
    }
  }

  @Test
  void aCopiedRunRootAndModelFolderWithTheSameBytesAreUpToDateAndOneChangedByteIsNamed() throws Exception {
    Path model = modelFolder("models/a");
    assertThat(toys("run", "--root", root, "--set", "toy.model=" + model)).as(err.toString()).isZero();
    assertThat(tmp.resolve("run").resolve(org.cellcircuits.io.DigestCache.FILE)).exists();

    Path copiedRoot = tmp.resolve("copies/run");
    Path copiedModel = tmp.resolve("copies/model");
    copyTree(tmp.resolve("run"), copiedRoot);
    copyTree(model, copiedModel);
    out.getBuffer().setLength(0);
    assertThat(toys(NO_SPARK, "run", "--plan", "--root", copiedRoot.toString(), "--set", "toy.model=" + copiedModel))
        .as(err.toString()).isZero();
    assertThat(out.toString()).contains("  toy        up to date, will skip (rows {numbers=100})\n"
        + "  double     up to date, will skip (rows {doubled=100})\n");
    assertThat(toys(NO_SPARK, "run", "--root", copiedRoot.toString(), "--set", "toy.model=" + copiedModel))
        .as(err.toString()).isZero();
    assertThat(TOY_WRITES).hasValue(1);

    Files.write(copiedModel.resolve("model.safetensors"), new byte[] {1, 2, 3, 4, 5, 6, 7, 9});
    out.getBuffer().setLength(0);
    assertThat(toys(NO_SPARK, "run", "--plan", "--root", copiedRoot.toString(), "--set", "toy.model=" + copiedModel))
        .isZero();
    assertThat(out.toString())
        .containsPattern("  toy        changed, will refuse: input model: content=sha256:[0-9a-f]{12}… files=3 "
            + "bytes=28 -> content=sha256:[0-9a-f]{12}… files=3 bytes=28; pass --overwrite to rebuild\n")
        .contains("  double     runs after toy\n");
    assertThat(toys(NO_SPARK, "run", "--root", copiedRoot.toString(), "--set", "toy.model=" + copiedModel))
        .isEqualTo(1);
    assertThat(err.toString()).contains("input model: content=sha256:");
  }

  @Test
  void aMarkerOfAnOlderBuildWithPathAndMtimeFingerprintsStaysValidUntilTheInputIsTouched() throws Exception {
    Path model = modelFolder("models/a");
    assertThat(toys("toy", "--root", root, "--set", "toy.model=" + model)).as(err.toString()).isZero();
    // rewrite the marker as an older cellcircuits wrote it: the model by path, lengths and modification times
    StageMarker now = runRoot().requireCommitted("toy");
    String listing = org.cellcircuits.io.InputFingerprints.ofListing("model", model.toString(),
        spark.sparkContext().hadoopConfiguration());
    StageMarker old = new StageMarker(now.formatVersion(), now.stage(), now.attemptId(), now.configHash(),
        now.configJson(), Map.of("model", listing), now.rowCounts(), now.stats(), now.createdAt(), now.versions());
    Files.writeString(tmp.resolve("run/toy").resolve(RunRoot.MARKER), old.toJson());

    out.getBuffer().setLength(0);
    assertThat(toys(NO_SPARK, "run", "--plan", "--root", root, "--set", "toy.model=" + model)).isZero();
    assertThat(out.toString()).contains("  toy        up to date, will skip");

    Files.setLastModifiedTime(model.resolve("tokenizer.json"),
        java.nio.file.attribute.FileTime.fromMillis(1_800_000_000_000L));
    out.getBuffer().setLength(0);
    assertThat(toys(NO_SPARK, "run", "--plan", "--root", root, "--set", "toy.model=" + model)).isZero();
    // the marker's fingerprint is the recorded one: the files' mtimes before the touch
    assertThat(out.toString()).contains("  toy        changed, will refuse: input model: path=file:" + model
        + " files=3 bytes=28 newest_mtime=").contains(
        " (by path and mtime, from an older cellcircuits) -> content=sha256:");
  }

  @Test
  void aStageWhoseLeaseAnotherRunHoldsRefusesNamingItAndStatusShowsIt() throws Exception {
    assertThat(toys("toy", "--root", root, "--set", "toy.rows=5")).isZero();
    try (org.cellcircuits.io.StageLease lease =
        org.cellcircuits.io.StageLease.acquire(runRoot(), "toy", java.time.Duration.ofMinutes(10))) {
      assertThat(toys(NO_SPARK, "toy", "--root", root, "--set", "toy.rows=6", "--overwrite")).isEqualTo(1);
      assertThat(err.toString()).startsWith("toy failed: stage toy is being written by another run: its lease "
          + org.cellcircuits.io.StageLease.path(runRoot(), "toy") + " is held by " + lease.holder().describe()
          + ", started ");
      out.getBuffer().setLength(0);
      assertThat(toys("status", "--root", root)).isZero();
      assertThat(out.toString()).containsPattern("    lease held by " + java.util.regex.Pattern.quote(
          lease.holder().describe()) + ", started \\S+, last heartbeat \\d+ s ago \\(a run is writing this stage\\): "
          + java.util.regex.Pattern.quote(org.cellcircuits.io.StageLease.path(runRoot(), "toy").toString()));
      // a run that only skips needs no lease
      assertThat(toys(NO_SPARK, "toy", "--root", root, "--set", "toy.rows=5")).isZero();
    }
    out.getBuffer().setLength(0);
    assertThat(toys("status", "--root", root)).isZero();
    assertThat(out.toString()).doesNotContain("lease");
  }

  @Test
  void aStageWhoseUpstreamIsNotCommittedFailsNamingIt() throws Exception {
    assertThat(toys(NO_SPARK, "double", "--root", root)).isEqualTo(1);
    assertThat(err.toString()).startsWith("double failed: stage toy has no committed output under "
        + runRoot().uri()).contains("run `cellcircuits toy` first");
    assertThat(DOUBLE_WRITES).hasValue(0);
  }

  /** Fails inside a Spark task, as a stage with bad data would. */
  static final class FailingStage implements Stage {
    @Override public String name() { return "toy"; }
    @Override public String description() { return "fails"; }
    @Override public List<String> upstream() { return List.of(); }

    @Override
    public StageResult write(StageContext ctx, String attemptDir) {
      ctx.spark().range(0, 10, 1, 2).map((org.apache.spark.api.java.function.MapFunction<Long, Long>) x -> {
        if (x == 7) {
          throw new IllegalArgumentException("cell 7 has a negative count in column 3");
        }
        return x;
      }, org.apache.spark.sql.Encoders.LONG()).write().parquet(attemptDir + "/numbers");
      return StageResult.of(Map.of("numbers", 10L));
    }
  }

  @Test
  void aStageThatFailsExitsOneWithTheTasksOwnMessageAndCommitsNothing() throws Exception {
    int code = execute(new StageRegistry(List.of(new FailingStage())), REFERENCE, settings -> spark,
        "toy", "--root", root);
    assertThat(code).isEqualTo(1);
    // the task's own message, once, as the one line on the terminal; the chain and the traces go to the log file
    assertThat(err.toString()).isEqualTo("toy failed: cell 7 has a negative count in column 3\n");
    assertThat(CellCircuits.messages(new IllegalStateException("stage toy failed", new IllegalArgumentException(
        "cell 7 has a negative count\nin column 3")))).isEqualTo("cell 7 has a negative count\n  in: stage toy failed");
    assertThat(CellCircuits.cause(new IllegalStateException("stage toy failed", new IllegalArgumentException(
        "cell 7 has a negative count\nin column 3")))).isEqualTo("cell 7 has a negative count; in column 3");
    assertThat(runRoot().committed("toy")).isEmpty();
  }

  @Test
  void badRangesAreUsageErrorsBeforeSparkStartsForTheStageAndForEveryStageARunReaches() {
    // before: top-k=-5 failed inside the stage after Spark started (exit 1, a stack trace); --plan said "will run"
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, "sentences", "--root", root,
        "--set", "sentences.atlas.path=demo/heart_demo.h5ad", "--set", "sentences.top-k=-5")).isEqualTo(2);
    assertThat(err.toString().lines().toList()).hasSize(1).first().asString()
        .startsWith("sentences: ").contains("sentences.top-k").contains("-5");
    err.getBuffer().setLength(0);
    // a bad value of a later stage stops the run (and its plan) before the first stage starts
    String[] sets = {"--set", "sentences.atlas.path=demo/heart_demo.h5ad", "--set", "model.path=demo/model",
        "--set", "train.lr=-1"};
    for (String[] args : List.of(new String[] {"run", "--plan", "--root", root}, new String[] {"run", "--root", root})) {
      String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.Arrays.stream(sets))
          .toArray(String[]::new);
      assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, all)).isEqualTo(2);
      assertThat(err.toString().lines().toList()).as("%s", List.of(args)).hasSize(1).first().asString()
          .startsWith("run: ").contains("train.lr").contains("-1");
      err.getBuffer().setLength(0);
    }
    // --until stops the checks where the run stops
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, "run", "--plan", "--until",
        "harvest", "--root", root, sets[0], sets[1], sets[2], sets[3], sets[4], sets[5])).isZero();
    assertThat(Files.exists(tmp.resolve("run"))).isFalse();
  }

  @Test
  void stagesNotBuiltYetSaySoWithExitCodeTwo() {
    // Every stage of the default pipeline is built now; a pending stage still registers, plans and refuses to run.
    StageRegistry withPending = new StageRegistry(List.of(new SentencesStage(),
        new PendingStage("toy", "a stage still to come", List.of("sentences"), "issue 99")));
    assertThat(execute(withPending, REFERENCE, NO_SPARK, "toy", "--root", root)).isEqualTo(2);
    assertThat(err.toString()).isEqualTo("toy: stage toy is not implemented yet (issue 99)\n");
    assertThat(StageRegistry.defaults().inOrder()).noneMatch(s -> s instanceof PendingStage);

    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, "run", "--plan", "--root", root,
        "--set", "sentences.atlas.path=demo/heart_demo.h5ad", "--set", "model.path=demo/model")).isZero();
    assertThat(out.toString().lines().skip(1).map(String::strip).toList()).containsExactly(
        "sentences  will run",
        "harvest    runs after sentences",
        "train      runs after harvest",
        "evaluate   runs after sentences, train",
        "circuits   runs after sentences, harvest, train",
        "interpret  runs after sentences, harvest, train, circuits");
  }

  @Test
  void theSentencesCommandWritesCell2sentencesOwnSentencesAndSkipsARerun() throws Exception {
    // ties.h5ad: 300 cells with small integer counts (many ties); its expected sentences come from cell2sentence's
    // own procedure run by src/test/resources/atlas/make_fixtures.py. 70 cells per task puts the c2s pre-pass
    // checkpoints inside the file, and a large top-k keeps whole sentences.
    String[] args = {"sentences", "--root", root, "--set", "sentences.atlas.path=src/test/resources/atlas/ties.h5ad",
        "--set", "sentences.atlas.donor-column=null", "--set", "sentences.atlas.tissue-column=null",
        "--set", "sentences.top-k=1000", "--set", "sentences.rows-per-partition=70"};
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), settings -> spark, args))
        .as(err.toString()).isZero();
    com.google.gson.JsonObject expected = com.google.gson.JsonParser.parseString(
        Files.readString(Path.of("src/test/resources/atlas/ties.expected.json"))).getAsJsonObject();
    List<String> ids = new java.util.ArrayList<>();
    List<String> sentences = new java.util.ArrayList<>();
    expected.getAsJsonArray("cell_ids").forEach(e -> ids.add(e.getAsString()));
    expected.getAsJsonArray("c2s_sentences").forEach(e -> sentences.add(e.getAsString()));

    var rows = spark.read().parquet(runRoot().committedPath("sentences", "sentences").toString())
        .select("cell_id", "sentence").collectAsList();
    assertThat(rows).hasSize(ids.size());
    Map<String, String> byCell = new java.util.HashMap<>();
    rows.forEach(r -> byCell.put(r.getString(0), r.getString(1)));
    for (int i = 0; i < ids.size(); i++) {
      assertThat(byCell.get(ids.get(i))).as("sentence of cell %s", ids.get(i)).isEqualTo(sentences.get(i));
    }
    assertThat(runRoot().requireCommitted("sentences").rowCounts()).containsEntry("sentences", (long) ids.size());

    out.getBuffer().setLength(0);
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, args)).isZero();
    assertThat(out.toString()).contains("skipped");

    // run --until stops after the named stage, so harvest (which would need a model) is not reached.
    String[] run = java.util.stream.Stream.concat(Stream.of("run", "--until", "sentences"),
        java.util.Arrays.stream(args).skip(1)).toArray(String[]::new);
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, run)).isZero();

    out.getBuffer().setLength(0);
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, "status", "--root", root))
        .isZero();
    assertThat(out.toString().lines().map(String::strip).toList())
        .contains("harvest    not committed")
        .anySatisfy(l -> assertThat(l).matches("sentences +300 rows  .*")
            .endsWith(runRoot().committedPath("sentences", "sentences").toString()))
        .anySatisfy(l -> assertThat(l).matches("cells_input +300"));
  }

  @Test
  void maxCellsKeepsTheFirstCellsWithTheSentencesOfAFullRun() throws Exception {
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), settings -> spark, "sentences", "--root",
        root, "--set", "sentences.atlas.path=src/test/resources/atlas/ties.h5ad", "--set",
        "sentences.atlas.donor-column=null", "--set", "sentences.atlas.tissue-column=null", "--set",
        "sentences.top-k=1000", "--set", "sentences.max-cells=120", "--set", "sentences.rows-per-partition=50"))
        .as(err.toString()).isZero();
    com.google.gson.JsonObject expected = com.google.gson.JsonParser.parseString(
        Files.readString(Path.of("src/test/resources/atlas/ties.expected.json"))).getAsJsonObject();
    var rows = spark.read().parquet(runRoot().committedPath("sentences", "sentences").toString())
        .orderBy("atlas_row").select("cell_id", "sentence").collectAsList();
    assertThat(rows).hasSize(120);
    for (int i = 0; i < 120; i++) {
      assertThat(rows.get(i).getString(0)).isEqualTo(expected.getAsJsonArray("cell_ids").get(i).getAsString());
      assertThat(rows.get(i).getString(1)).as("cell %d", i)
          .isEqualTo(expected.getAsJsonArray("c2s_sentences").get(i).getAsString());
    }
  }

  @Test
  void theSentencesStageWithoutAnAtlasNamesTheKeyToSet() {
    assertThat(execute(StageRegistry.defaults(), ConfigLoader.reference(), NO_SPARK, "sentences", "--root", root))
        .isEqualTo(2);
    assertThat(err.toString()).contains("cellcircuits.sentences.atlas.path is not set",
        "--set sentences.atlas.path=");
  }

  @Test
  void helpListsTheSubcommandsAndNoSubcommandIsAUsageError() {
    StageRegistry defaults = StageRegistry.defaults();
    assertThat(execute(defaults, ConfigLoader.reference(), NO_SPARK, "--help")).isZero();
    assertThat(out.toString()).contains("sentences", "harvest", "train", "evaluate", "circuits", "interpret", "run");
    assertThat(execute(defaults, ConfigLoader.reference(), NO_SPARK)).isEqualTo(2);
    assertThat(err.toString()).contains("Usage: cellcircuits");
  }
}
