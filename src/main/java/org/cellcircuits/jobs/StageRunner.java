package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.spark.scheduler.TaskSchedulerImpl;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.io.DigestCache;
import org.cellcircuits.io.InputFingerprints;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageCommitter;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.io.StageSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs registered stages against one run root under the commit protocol. Spark starts only when a stage really has
 * to write, so a run whose stages are all committed is a few file reads.
 */
public final class StageRunner implements AutoCloseable {
  /** Starts the Spark session of a run. */
  @FunctionalInterface
  public interface SparkProvider {
    SparkSession start(RunSettings settings);

    /** The launcher's provider: a session from the run's Spark settings (launcher settings win). */
    static SparkProvider fromSettings() {
      return settings -> SparkSession.builder().config(settings.toSparkConf()).getOrCreate();
    }
  }

  private final StageRegistry registry;
  private final Config config;
  private final RunSettings settings;
  private final RunRoot root;
  private static final Logger LOG = LoggerFactory.getLogger(StageRunner.class);
  /** How long a failed stage waits for its Spark tasks to stop (they check for the request between steps). */
  private static final Duration TASK_STOP_WAIT = Duration.ofSeconds(60);
  private final SparkProvider sparkProvider;
  private final boolean stopSparkOnClose;
  private SparkSession spark;

  /**
   * @param config the full loaded config ({@link ConfigLoader})
   * @param stopSparkOnClose stop the session on {@link #close()} if this runner started it (false when the provider
   *     hands out a shared session, as in tests)
   */
  public StageRunner(StageRegistry registry, Config config, SparkProvider sparkProvider, boolean stopSparkOnClose)
      throws IOException {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.config = Objects.requireNonNull(config, "config");
    this.settings = RunSettings.from(config);
    this.root = RunRoot.of(settings.root(), settings.hadoopConfiguration());
    this.sparkProvider = Objects.requireNonNull(sparkProvider, "sparkProvider");
    this.stopSparkOnClose = stopSparkOnClose;
  }

  public RunRoot root() {
    return root;
  }

  public RunSettings settings() {
    return settings;
  }

  /**
   * Runs one stage: skipped when committed with the same config and inputs, refused when committed differently
   * (unless overwrite), otherwise written and committed.
   *
   * @throws StageNotImplementedException for a {@link PendingStage}
   * @throws org.cellcircuits.io.StageNotCommittedException when an upstream stage has no committed output
   */
  public StageOutcome run(String stageName) throws Exception {
    Stage stage = registry.get(stageName).orElseThrow(() -> new IllegalArgumentException(
        String.format("no stage named %s; stages: %s", stageName, names())));
    if (stage instanceof PendingStage pending) {
      throw pending.notImplemented();
    }
    validate(stageName);
    DigestCache digests = DigestCache.of(root);
    StageSpec spec = spec(stage, digests);
    saveDigests(digests);
    return StageCommitter.run(root, spec, settings.overwrite(), settings.leaseTimeout(), attemptDir -> {
      try {
        return stage.write(context(), attemptDir);
      } catch (Exception | Error e) {
        awaitTasksStopped(stageName);
        throw e;
      }
    }, () -> stage.afterCommit(root));
  }

  /**
   * Tasks the scheduler has launched and not yet seen end. From the scheduler itself: the status tracker's counts
   * come through the listener bus and a throttled store, and read 0 while a task still runs (CellCircuitsTest failed
   * with them).
   * {@code taskScheduler()} is private[spark] in Scala, public to Java, stable in Spark 3.x.
   */
  private int runningTasks() {
    if (!(spark.sparkContext().taskScheduler() instanceof TaskSchedulerImpl scheduler)) {
      return 0;
    }
    int running = 0;
    scala.collection.Iterator<Object> perExecutor = scheduler.runningTasksByExecutors().values().iterator();
    while (perExecutor.hasNext()) {
      running += (Integer) perExecutor.next();
    }
    return running;
  }

  /**
   * After a failed stage, waits until no Spark task is running. When one task fails, Spark aborts its job and
   * returns at once, while the job's other tasks are only asked to stop: until they do, they may still write into
   * the failed attempt's folder, which the next attempt deletes, or into the next attempt's shared folders
   * (training checkpoints). Bounded, so a task that ignores the request cannot hang the driver.
   */
  private void awaitTasksStopped(String stageName) {
    if (spark == null) {
      return;
    }
    long deadline = System.nanoTime() + TASK_STOP_WAIT.toNanos();
    try {
      while (true) {
        int running = runningTasks();
        if (running == 0) {
          return;
        }
        if (System.nanoTime() > deadline) {
          LOG.warn("stage {} failed; {} Spark task(s) still running after {} s", stageName, running,
              TASK_STOP_WAIT.toSeconds());
          return;
        }
        Thread.sleep(50);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Checks a stage's settings ({@link Stage#validate}) without starting Spark.
   *
   * @throws BadConfigException naming the key, the value and the range
   */
  public void validate(String stageName) {
    Stage stage = registry.get(stageName).orElseThrow(() -> new IllegalArgumentException(
        String.format("no stage named %s; stages: %s", stageName, names())));
    try {
      stage.validate(config);
    } catch (BadConfigException e) {
      throw e;
    } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
      // the stages' messages name their keys in full (cellcircuits.train.lr ...): no prefix needed
      throw new BadConfigException(e.getMessage(), e);
    }
  }

  /**
   * What {@code run} would do for each stage, without starting Spark or writing anything. Input digests come from the
   * run root's cache where it has them; files it does not know are read (and not remembered: a plan writes nothing).
   */
  public List<PlanLine> plan() throws IOException {
    List<PlanLine> lines = new ArrayList<>();
    Map<String, Boolean> upToDate = new HashMap<>();
    DigestCache digests = DigestCache.of(root);
    for (Stage stage : registry.inOrder()) {
      String status;
      boolean current = false;
      Optional<StageMarker> marker = root.committed(stage.name());
      List<String> waitingFor = stage.upstream(config).stream().filter(u -> !upToDate.get(u)).toList();
      if (stage instanceof PendingStage pending) {
        status = "not implemented yet (" + pending.issue() + ")";
      } else if (!waitingFor.isEmpty()) {
        status = "runs after " + String.join(", ", waitingFor);
      } else {
        StageSpec spec;
        try {
          spec = spec(stage, digests);
        } catch (IOException e) {
          status = "cannot run: " + e.getMessage();
          lines.add(new PlanLine(stage.name(), status, marker.map(StageMarker::attemptId).orElse(null)));
          upToDate.put(stage.name(), false);
          continue;
        }
        List<String> differences = marker.map(spec::differences).orElse(List.of());
        if (marker.isEmpty()) {
          status = "will run";
        } else if (differences.isEmpty()) {
          current = true;
          status = "up to date, will skip (rows " + marker.get().rowCounts() + ")";
        } else if (settings.overwrite()) {
          status = "changed, will be rebuilt (overwrite is on): " + String.join("; ", differences);
        } else {
          status = "changed, will refuse: " + String.join("; ", differences) + "; pass --overwrite to rebuild";
        }
      }
      upToDate.put(stage.name(), current);
      lines.add(new PlanLine(stage.name(), status, marker.map(StageMarker::attemptId).orElse(null)));
    }
    return lines;
  }

  /**
   * One stage's state in a plan.
   *
   * @param committedAttempt the attempt now committed, or null
   */
  public record PlanLine(String stage, String status, String committedAttempt) {}

  /**
   * The stage's identity for this run: its config plus fingerprints of the upstream markers and of the external inputs
   * by content ({@link InputFingerprints#ofContent}). Config keys that hold an external input's location are marked as
   * such, so an input copied to another path with the same bytes is the same input.
   *
   * <p>A marker written by an older build recorded an external input by path and modification time ({@link
   * InputFingerprints#isListing}). Such an input is compared in that form: while its path, length and mtime are the
   * recorded ones it is unchanged, and the spec carries the recorded fingerprint (so the stage is skipped, and a
   * rebuild with --overwrite records it again); once they differ the spec carries the content fingerprint and the
   * stage reads as changed, the plan and the refusal naming the input.
   */
  StageSpec spec(Stage stage, DigestCache digests) throws IOException {
    Map<String, String> inputs = new TreeMap<>();
    for (String up : stage.upstream(config)) {
      StageMarker marker = root.requireCommitted(up);
      inputs.put(InputFingerprints.stageKey(up), InputFingerprints.ofStage(marker));
    }
    Map<String, String> recorded = root.committed(stage.name()).map(StageMarker::inputs).orElse(Map.of());
    Map<String, String> external = stage.externalInputs(config);
    for (Map.Entry<String, String> e : external.entrySet()) {
      String old = recorded.get(e.getKey());
      if (old != null && InputFingerprints.isListing(old)
          && old.equals(InputFingerprints.ofListing(e.getKey(), e.getValue(), root.hadoop()))) {
        inputs.put(e.getKey(), old);
      } else {
        inputs.put(e.getKey(), InputFingerprints.ofContent(e.getKey(), e.getValue(), root.hadoop(), digests));
      }
    }
    Config stageConfig = stage.stageConfig(config);
    Set<String> locationKeys = new TreeSet<>();
    for (Map.Entry<String, ConfigValue> e : stageConfig.resolve().entrySet()) {
      if (e.getValue().valueType() == ConfigValueType.STRING && external.containsValue(e.getValue().unwrapped())) {
        locationKeys.add(String.join(".", ConfigUtil.splitPath(e.getKey())));
      }
    }
    return new StageSpec(stage.name(), stageConfig, inputs, locationKeys);
  }

  /** Remembers the digests just computed; a failure costs only a re-read next time. */
  private static void saveDigests(DigestCache digests) {
    try {
      digests.save();
    } catch (IOException e) {
      LOG.warn("could not save the input digest cache (inputs are hashed again next run): {}", e.toString());
    }
  }

  private StageContext context() {
    if (spark == null) {
      spark = sparkProvider.start(settings);
    }
    return new StageContext(spark, config, root, settings);
  }

  private List<String> names() {
    return registry.inOrder().stream().map(Stage::name).toList();
  }

  @Override
  public void close() {
    if (spark != null && stopSparkOnClose) {
      spark.stop();
    }
    spark = null;
  }
}
