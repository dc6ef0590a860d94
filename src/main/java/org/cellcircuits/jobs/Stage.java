package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;

/**
 * One step of the pipeline as the command line and {@link StageRunner} see it. A stage holds no maths: it wires the
 * package that does the work (sentences, harvest, ...) to Spark and to the run root.
 *
 * <p>The runner fingerprints the upstream stages' markers and the external inputs, hashes {@link #stageConfig},
 * skips the stage when both match its marker, and otherwise calls {@link #write} under the commit protocol
 * ({@link org.cellcircuits.io.StageCommitter}).
 */
public interface Stage {
  /** Folder name under the run root and subcommand name, e.g. {@code sentences}. */
  String name();

  /** One line for {@code --help}. */
  String description();

  /**
   * Stages whose committed output this one may read (all of them, whatever the config); they must come earlier in the
   * registry. Orders the stages and names them in the help.
   */
  List<String> upstream();

  /**
   * The stages this run of the stage reads under {@code all}: they must be committed before it runs, and their markers
   * are part of its identity. Default: {@link #upstream()}. A stage whose config turns an input off (interpret without
   * its knockout check reads no circuits) returns fewer.
   */
  default List<String> upstream(Config all) {
    return upstream();
  }

  /**
   * The config that determines this stage's output; its hash decides skip or refuse. Default: the stage's own section
   * {@code cellcircuits.<name>}, with its keys rendered as {@code <name>.key}. A stage that also depends on another
   * section (e.g. {@code model}) returns both, e.g. {@code sections(all, "harvest", "model")}.
   */
  default Config stageConfig(Config all) {
    return sections(all, name());
  }

  /**
   * Files or folders outside the run root that the stage reads (atlas, model folder), input name to path or URI.
   * They are fingerprinted by content ({@link org.cellcircuits.io.InputFingerprints#ofContent}), and a config key
   * whose value is one of these locations does not count as a config change: a copy at another path with the same
   * bytes is the same input. Default: none.
   */
  default Map<String, String> externalInputs(Config all) {
    return Map.of();
  }

  /**
   * Checks the stage's settings under {@code all} without Spark or any file: every key it reads, its type and its
   * range, so a bad value fails before Spark starts and before earlier stages spend their time (an
   * {@link IllegalArgumentException} or {@link com.typesafe.config.ConfigException} naming the key; the runner turns it
   * into a usage error). Default: nothing to check.
   */
  default void validate(Config all) {
  }

  /**
   * Writes every table of this stage under {@code attemptDir} ({@code attemptDir + "/" + table}) and returns the row
   * count of each. Upstream data is read with {@code ctx.root().committedPath(stage, table)}.
   */
  StageResult write(StageContext ctx, String attemptDir) throws Exception;

  /**
   * Called once the stage's output is committed, by this run or (when the stage is skipped) an earlier one: for
   * cleanup that must not come before the commit, such as deleting the state a crashed run would resume from. Runs
   * on the driver, without Spark, before the stage's lease is released, so no second writer of the stage starts
   * meanwhile; a skipped stage runs it only when no other run holds the lease (that run may be writing what it
   * deletes). Must be idempotent (a crash between the commit and this call leaves the work to the next run). A
   * failure is logged and does not undo the commit. Default: nothing.
   */
  default void afterCommit(RunRoot root) throws IOException {
  }

  /**
   * Lines the command line prints after a stage has run or been skipped (a table of its results, say), made from its
   * marker alone so a skipped stage prints the same as the run that wrote it. Default: null (nothing more).
   */
  default String report(StageMarker marker) {
    return null;
  }

  /**
   * As {@link #report(StageMarker)}, for a stage whose report is too big for the marker's figures and lives in a small
   * file of its committed attempt (under {@code root}). Default: {@link #report(StageMarker)}.
   */
  default String report(StageMarker marker, RunRoot root) throws IOException {
    return report(marker);
  }

  /** The model checkpoint folder ({@code model.path}) as an external input, for the stages that run the model. */
  static Map<String, String> modelInput(Config all) {
    String key = ConfigLoader.ROOT + ".model.path";
    return all.getIsNull(key) ? Map.of() : Map.of("model", all.getString(key));
  }

  /**
   * {@code cellcircuits.<name>} of the full config for each name, keyed {@code <name>.*} so hashes and diffs name the
   * section.
   */
  static Config sections(Config all, String... names) {
    Config root = all.getConfig(ConfigLoader.ROOT);
    Config out = root.withOnlyPath(names[0]);
    for (int i = 1; i < names.length; i++) {
      out = out.withFallback(root.withOnlyPath(names[i]));
    }
    return out;
  }
}
