package org.cellcircuits.evaluate;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.model.ModelSettings;
import org.cellcircuits.sentences.CellSplit;

/**
 * Settings of one evaluation: the {@code cellcircuits.evaluate} section plus the {@code model} and {@code split}
 * sections it uses. Validated here, so an executor never meets a bad value after the job has started.
 *
 * @param model the checkpoint and how it runs and decodes (the harvest's own, {@code cellcircuits.model})
 * @param tokensPerBatch most padded positions per forward pass (>= 1)
 * @param cellsPerTask held-out cells per Spark task (>= 1)
 * @param maxCells score at most this many held-out cells (>= 0; 0 = all), a seeded choice among them
 * @param split which cells are held out; only those are scored
 */
public record EvaluateParams(
    ModelSettings model,
    int tokensPerBatch,
    int cellsPerTask,
    long maxCells,
    CellSplit split) implements Serializable {
  private static final long serialVersionUID = 1L;

  public EvaluateParams {
    Objects.requireNonNull(model, "model");
    ConfigChecks.atLeast("cellcircuits.evaluate.tokens-per-batch", tokensPerBatch, 1);
    ConfigChecks.atLeast("cellcircuits.evaluate.cells-per-task", cellsPerTask, 1);
    ConfigChecks.atLeast("cellcircuits.evaluate.max-cells", maxCells, 0);
    Objects.requireNonNull(split, "split");
    if (split.heldOutFraction() == 0) {
      throw new IllegalArgumentException("no held-out cells to evaluate: cellcircuits.split.held-out-fraction is 0, "
          + "so the harvest trained the transcoders on every cell; set it above 0 (e.g. 0.1) and rerun harvest, "
          + "train and evaluate");
    }
  }

  /** Reads the {@code evaluate}, {@code model} and {@code split} sections (keys under {@code cellcircuits.}). */
  public static EvaluateParams fromConfig(Config all) {
    ModelSettings model = ModelSettings.fromConfig(all);
    try {
      Config e = all.getConfig("cellcircuits.evaluate");
      return new EvaluateParams(
          model,
          e.getInt("tokens-per-batch"),
          e.getInt("cells-per-task"),
          e.getLong("max-cells"),
          CellSplit.fromConfig(all));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.evaluate: " + e.getMessage(), e);
    }
  }
}
