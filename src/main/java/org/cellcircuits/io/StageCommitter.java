package org.cellcircuits.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stage commit protocol (DESIGN.md, "Stages and data contracts"):
 *
 * <ol>
 *   <li>Read the stage's marker. Same config hash and same input fingerprints: skip. Different: refuse, unless
 *       overwrite is set.
 *   <li>Delete stale attempt folders (every attempt but the committed one, which readers may still be using).
 *   <li>Run the body into a fresh folder {@code <root>/<stage>/attempt-<id>/}. Nothing points at it yet, so a crash
 *       anywhere in here (driver killed, a task throwing) leaves nothing a reader sees.
 *   <li>Write the marker naming the new attempt, as one atomic object ({@link MarkerFiles}). This is the commit.
 *   <li>Delete every other attempt folder.
 * </ol>
 *
 * <p>No step renames a directory: on S3 a directory rename is a copy of every object followed by deletes, neither
 * atomic nor cheap. The only rename is of the single small marker file, and only where the file system renames
 * atomically.
 *
 * <p>One writer per stage per run root: two drivers running the same stage on the same root at once would delete each
 * other's attempts. Schedule accordingly (e.g. Airflow {@code max_active_runs=1} per run root).
 */
public final class StageCommitter {
  private static final Logger LOG = LoggerFactory.getLogger(StageCommitter.class);
  private static final DateTimeFormatter ATTEMPT_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
  private static final SecureRandom RANDOM = new SecureRandom();

  private StageCommitter() {}

  /**
   * Runs one stage under the protocol.
   *
   * @param overwrite replace a committed output whose config or inputs differ; an equal one is skipped either way
   * @return SKIPPED with the existing marker, or COMMITTED with the new one
   * @throws StageConflictException when the committed output differs and {@code overwrite} is false
   * @throws Exception whatever the body threw; the attempt folder is then left uncommitted (and is deleted when the
   *     stage next starts), the previous marker, if any, stays in force
   */
  public static StageOutcome run(RunRoot root, StageSpec spec, boolean overwrite, StageBody body) throws Exception {
    String stage = spec.stage();
    FileSystem fs = root.fileSystem();
    Path stageDir = root.stagePath(stage);
    String configJson = spec.configJson();
    String configHash = CanonicalConfig.sha256Hex(configJson);

    Optional<StageMarker> previous = root.committed(stage);
    if (previous.isPresent()) {
      StageMarker old = previous.get();
      boolean same = old.configHash().equals(configHash) && old.inputs().equals(spec.inputFingerprints());
      boolean present = fs.exists(root.attemptPath(stage, old.attemptId()));
      if (same && present) {
        deleteStaleAttempts(fs, stageDir, old.attemptId());
        LOG.info("stage {}: skipped, attempt {} is committed with the same config ({}) and inputs",
            stage, old.attemptId(), shortHash(configHash));
        return new StageOutcome(StageOutcome.Status.SKIPPED, old);
      }
      if (!overwrite) {
        if (!present) {
          throw new FileNotFoundException(String.format(
              "stage %s: marker %s names attempt %s, but its folder %s is missing; pass --overwrite to rebuild it",
              stage, root.markerPath(stage), old.attemptId(), root.attemptPath(stage, old.attemptId())));
        }
        throw conflict(root, spec, old, configJson, configHash);
      }
      LOG.info("stage {}: overwriting attempt {} (config {} -> {}, inputs {})", stage, old.attemptId(),
          shortHash(old.configHash()), shortHash(configHash),
          old.inputs().equals(spec.inputFingerprints()) ? "unchanged" : "changed");
    }

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
    MarkerFiles.write(fs, root.markerPath(stage), marker);
    deleteStaleAttempts(fs, stageDir, attemptId);
    LOG.info("stage {}: committed attempt {} (config {}, rows {})", stage, attemptId, shortHash(configHash),
        result.rowCounts());
    return new StageOutcome(StageOutcome.Status.COMMITTED, marker);
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
      RunRoot root, StageSpec spec, StageMarker old, String configJson, String configHash) {
    List<String> differences = new ArrayList<>(
        CanonicalConfig.differences(CanonicalConfig.parse(old.configJson()), CanonicalConfig.parse(configJson)));
    TreeSet<String> inputs = new TreeSet<>(old.inputs().keySet());
    inputs.addAll(spec.inputFingerprints().keySet());
    Map<String, String> now = spec.inputFingerprints();
    for (String input : inputs) {
      String before = old.inputs().getOrDefault(input, "(absent)");
      String after = now.getOrDefault(input, "(absent)");
      if (!before.equals(after)) {
        differences.add("input " + input + ": " + before + " -> " + after);
      }
    }
    String message = String.format(
        "stage %s already committed attempt %s under %s with config hash %s; this run has config hash %s and "
            + "differs in:%n  %s%nPass --overwrite (cellcircuits.run.overwrite = true) to replace it, or use another "
            + "run root.",
        spec.stage(), old.attemptId(), root.uri(), old.configHash(), configHash, String.join("\n  ", differences));
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
