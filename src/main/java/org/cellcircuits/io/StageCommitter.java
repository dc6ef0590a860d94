package org.cellcircuits.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stage commit protocol (DESIGN.md, "Stages and data contracts"):
 *
 * <ol>
 *   <li>Read the stage's marker. Same config and same inputs ({@link StageSpec#differences}): skip. Different:
 *       refuse, unless overwrite is set.
 *   <li>Take the stage's lease ({@link StageLease}) and read the marker again; delete stale attempt folders (every
 *       attempt but the committed one, which readers may still be using).
 *   <li>Run the body into a fresh folder {@code <root>/<stage>/attempt-<id>/}. Nothing points at it yet, so a crash
 *       anywhere in here (driver killed, a task throwing) leaves nothing a reader sees.
 *   <li>Write the marker naming the new attempt, as one atomic object ({@link MarkerFiles}). This is the commit.
 *   <li>Delete every other attempt folder, then run the stage's {@link AfterCommit} work.
 * </ol>
 *
 * <p>No step renames a directory: on S3 a directory rename is a copy of every object followed by deletes, neither
 * atomic nor cheap. The only rename is of the single small marker file, and only where the file system renames
 * atomically.
 *
 * <p>One writer per stage per run root: steps 2 to 5 run under the stage's lease, so a second run of the same stage
 * refuses, naming the holder, instead of deleting the first one's attempt; the lease is removed after the commit or
 * the failure. Step 1 needs no lease, so a committed stage is skipped without writing anything; a skipped stage runs
 * its {@link AfterCommit} work only when no other run holds the lease (that run may be writing what the work deletes).
 */
public final class StageCommitter {
  private static final Logger LOG = LoggerFactory.getLogger(StageCommitter.class);
  private static final DateTimeFormatter ATTEMPT_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
  private static final SecureRandom RANDOM = new SecureRandom();

  private StageCommitter() {}

  /** Runs one stage under the protocol with the default lease timeout ({@link StageLease#DEFAULT_TIMEOUT}). */
  public static StageOutcome run(RunRoot root, StageSpec spec, boolean overwrite, StageBody body) throws Exception {
    return run(root, spec, overwrite, StageLease.DEFAULT_TIMEOUT, body);
  }

  /** Runs one stage under the protocol, with no {@link AfterCommit} work. */
  public static StageOutcome run(RunRoot root, StageSpec spec, boolean overwrite, Duration leaseTimeout,
      StageBody body) throws Exception {
    return run(root, spec, overwrite, leaseTimeout, body, AfterCommit.NONE);
  }

  /**
   * Runs one stage under the protocol.
   *
   * @param overwrite replace a committed output whose config or inputs differ; an equal one is skipped either way
   * @param leaseTimeout a lease ({@link StageLease}) whose heartbeat is older than this is taken over
   * @param afterCommit run once the output is committed, by this call or an earlier one; a failure is logged and
   *     leaves the commit in force
   * @return SKIPPED with the existing marker, or COMMITTED with the new one
   * @throws StageConflictException when the committed output differs and {@code overwrite} is false
   * @throws StageLeaseHeldException when another run holds the stage's lease
   * @throws Exception whatever the body threw; the attempt folder is then left uncommitted (and is deleted when the
   *     stage next starts), the previous marker, if any, stays in force
   */
  public static StageOutcome run(RunRoot root, StageSpec spec, boolean overwrite, Duration leaseTimeout,
      StageBody body, AfterCommit afterCommit) throws Exception {
    String stage = spec.stage();
    FileSystem fs = root.fileSystem();
    Path stageDir = root.stagePath(stage);
    String configJson = spec.configJson();
    String configHash = CanonicalConfig.sha256Hex(configJson);

    // A first look without the lease, so that a committed stage is skipped without writing anything.
    Look first = look(root, spec, overwrite);
    if (first.skip()) {
      return skip(root, spec, first.previous(), leaseTimeout, afterCommit);
    }
    try (StageLease lease = StageLease.acquire(root, stage, leaseTimeout)) {
      // Another run may have committed between the first look and the lease.
      Look look = look(root, spec, overwrite);
      Optional<StageMarker> previous = Optional.ofNullable(look.previous());
      if (look.skip()) {
        deleteStaleAttempts(fs, stageDir, look.previous().attemptId());
        afterCommit(stage, afterCommit);
        return skipped(spec, look.previous());
      }
      previous.ifPresent(old -> LOG.info("stage {}: overwriting attempt {} (config {} -> {}, {})", stage,
          old.attemptId(), shortHash(old.configHash()), shortHash(configHash), spec.differences(old)));

      // Only the lease holder deletes uncommitted attempts: without the lease they may be another run's live one.
      deleteStaleAttempts(fs, stageDir, previous.map(StageMarker::attemptId).orElse(null));
      String attemptId = newAttemptId();
      Path attemptDir = root.attemptPath(stage, attemptId);
      LOG.info("stage {}: attempt {} writing to {}", stage, attemptId, attemptDir);

      StageResult result;
      try {
        result = body.write(attemptDir.toString());
        if (result == null) {
          throw new IllegalStateException("stage " + stage + " returned no result (row counts per table)");
        }
        for (String table : result.rowCounts().keySet()) {
          if (!fs.exists(new Path(attemptDir, table))) {
            throw new IllegalStateException(String.format(
                "stage %s reported table '%s' but wrote nothing at %s", stage, table, new Path(attemptDir, table)));
          }
        }
      } catch (Exception | Error e) {
        // Left in place on purpose, like a hard-killed driver would leave it: nothing points at it, and its partial
        // output helps to debug the failure. The next attempt of this stage deletes it.
        LOG.warn("stage {}: attempt {} failed; {} stays uncommitted and is deleted when the stage next starts",
            stage, attemptId, attemptDir);
        throw e;
      }

      StageMarker marker = new StageMarker(
          StageMarker.FORMAT_VERSION, stage, attemptId, configHash, configJson, spec.inputFingerprints(),
          result.rowCounts(), result.stats(), Instant.now(), SoftwareVersions.current());
      lease.checkHeld();
      MarkerFiles.write(fs, root.markerPath(stage), marker);
      deleteStaleAttempts(fs, stageDir, attemptId);
      LOG.info("stage {}: committed attempt {} (config {}, rows {})", stage, attemptId, shortHash(configHash),
          result.rowCounts());
      afterCommit(stage, afterCommit);
      return new StageOutcome(StageOutcome.Status.COMMITTED, marker);
    }
  }

  /**
   * What the marker says about this spec.
   *
   * @param previous the committed marker, or null
   * @param skip the marker was made from the same config and inputs and its attempt folder is there
   */
  private record Look(StageMarker previous, boolean skip) {}

  private static Look look(RunRoot root, StageSpec spec, boolean overwrite) throws IOException {
    String stage = spec.stage();
    Optional<StageMarker> previous = root.committed(stage);
    if (previous.isEmpty()) {
      return new Look(null, false);
    }
    StageMarker old = previous.get();
    List<String> differences = spec.differences(old);
    boolean present = root.fileSystem().exists(root.attemptPath(stage, old.attemptId()));
    if (differences.isEmpty() && present) {
      return new Look(old, true);
    }
    if (!overwrite) {
      if (!present) {
        throw new FileNotFoundException(String.format(
            "stage %s: marker %s names attempt %s, but its folder %s is missing; pass --overwrite to rebuild it",
            stage, root.markerPath(stage), old.attemptId(), root.attemptPath(stage, old.attemptId())));
      }
      throw conflict(root, spec, old, differences);
    }
    return new Look(old, false);
  }

  /**
   * Skips a committed stage. Uncommitted attempts beside it are deleted, and the after-commit work done, only when no
   * other run holds the stage's lease (they may be that run's attempt in progress, and the work may delete what that
   * run writes); a clean skip writes nothing, so without stale attempts the lease is only looked at, not taken.
   */
  private static StageOutcome skip(RunRoot root, StageSpec spec, StageMarker committed, Duration leaseTimeout,
      AfterCommit afterCommit) throws IOException {
    FileSystem fs = root.fileSystem();
    String stage = spec.stage();
    Path stageDir = root.stagePath(stage);
    if (hasStale(fs, stageDir, committed.attemptId())) {
      Optional<StageLease> lease = StageLease.tryAcquire(root, stage, leaseTimeout);
      if (lease.isPresent()) {
        try (StageLease held = lease.get()) {
          deleteStaleAttempts(fs, stageDir, committed.attemptId());
          afterCommit(stage, afterCommit);
        }
      } else {
        LOG.info("stage {}: another run holds the lease; its uncommitted attempts and the after-commit work are left "
            + "alone", stage);
      }
    } else if (StageLease.observe(root, stage).filter(o -> !o.staleAfter(leaseTimeout)).isEmpty()) {
      afterCommit(stage, afterCommit);
    } else {
      LOG.info("stage {}: another run holds the lease; the after-commit work is left to it", stage);
    }
    return skipped(spec, committed);
  }

  /** Runs the after-commit work; its failure leaves the commit in force, and the next run retries it. */
  private static void afterCommit(String stage, AfterCommit work) {
    try {
      work.run();
    } catch (IOException | RuntimeException e) {
      LOG.warn("stage {}: committed, but its cleanup after the commit failed (the next run retries it): {}",
          stage, e.toString());
    }
  }

  private static StageOutcome skipped(StageSpec spec, StageMarker committed) {
    LOG.info("stage {}: skipped, attempt {} is committed with the same config ({}) and inputs",
        spec.stage(), committed.attemptId(), shortHash(committed.configHash()));
    return new StageOutcome(StageOutcome.Status.SKIPPED, committed);
  }

  private static boolean hasStale(FileSystem fs, Path stageDir, String keep) throws IOException {
    try {
      for (FileStatus child : fs.listStatus(stageDir)) {
        String name = child.getPath().getName();
        if ((name.startsWith(RunRoot.ATTEMPT_PREFIX) && !name.equals(RunRoot.ATTEMPT_PREFIX + keep))
            || name.startsWith(MarkerFiles.TEMP_PREFIX)) {
          return true;
        }
      }
    } catch (FileNotFoundException e) {
      return false;
    }
    return false;
  }

  /**
   * Deletes every attempt folder of the stage except {@code keep} (null: keep none), and leftover marker temp files.
   * Uncommitted attempts are never read, so this is only about space and tidiness.
   */
  static void deleteStaleAttempts(FileSystem fs, Path stageDir, String keep) throws IOException {
    FileStatus[] children;
    try {
      children = fs.listStatus(stageDir);
    } catch (FileNotFoundException e) {
      return;
    }
    String kept = keep == null ? null : RunRoot.ATTEMPT_PREFIX + keep;
    for (FileStatus child : children) {
      String name = child.getPath().getName();
      boolean staleAttempt = name.startsWith(RunRoot.ATTEMPT_PREFIX) && !name.equals(kept);
      if (staleAttempt || name.startsWith(MarkerFiles.TEMP_PREFIX)) {
        LOG.info("deleting stale {}", child.getPath());
        fs.delete(child.getPath(), true);
      }
    }
  }

  private static StageConflictException conflict(
      RunRoot root, StageSpec spec, StageMarker old, List<String> differences) {
    String message = String.format(
        "stage %s already committed attempt %s under %s with config hash %s; this run has config hash %s and "
            + "differs in:%n  %s%nPass --overwrite (cellcircuits.run.overwrite = true) to replace it, or use another "
            + "run root.",
        spec.stage(), old.attemptId(), root.uri(), old.configHash(), spec.configHash(),
        String.join("\n  ", differences));
    return new StageConflictException(message, differences);
  }

  /** Sortable by start time (UTC), unique by a random suffix. */
  static String newAttemptId() {
    byte[] suffix = new byte[4];
    RANDOM.nextBytes(suffix);
    return ATTEMPT_TIME.format(Instant.now()) + "-" + HexFormat.of().formatHex(suffix);
  }

  static String shortHash(String hash) {
    return hash.substring(0, 12);
  }
}
