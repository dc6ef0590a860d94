package org.cellcircuits.evaluate;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.model.PredictOptions;
import org.cellcircuits.sentences.CellSplit;

/**
 * Settings of one evaluation: the {@code cellcircuits.evaluate} section plus the {@code model} and {@code split}
 * keys it uses. Validated here, so an executor never meets a bad value after the job has started.
 *
 * @param modelPath HuggingFace checkpoint folder (local path or Hadoop URI)
 * @param device where the forward runs: {@code auto}, {@code cpu}, {@code gpu}, {@code gpu:N}
 * @param precision {@code auto}, {@code fp32}, {@code fp16}, {@code bf16}
 * @param maxNewTokens most answer tokens greedy decoding generates (model.max-new-tokens, >= 1)
 * @param predictBatchSize prompts per greedy-decoding batch (model.batch-size, >= 1)
 * @param stopAtPeriod decoding stops at the first '.' (model.stop-at-period)
 * @param tokensPerBatch most padded positions per forward pass (>= 1)
 * @param cellsPerTask held-out cells per Spark task (>= 1)
 * @param maxCells score at most this many held-out cells (>= 0; 0 = all), a seeded choice among them
 * @param split which cells are held out; only those are scored
 */
public record EvaluateParams(
    String modelPath,
    String device,
    String precision,
    int maxNewTokens,
    int predictBatchSize,
    boolean stopAtPeriod,
    int tokensPerBatch,
    int cellsPerTask,
    long maxCells,
    CellSplit split) implements Serializable {
  private static final long serialVersionUID = 1L;

  public EvaluateParams {
    if (modelPath == null || modelPath.isBlank()) {
      throw new IllegalArgumentException(
          "cellcircuits.model.path is not set; evaluate needs the model checkpoint folder the transcoders were trained on");
    }
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(precision, "precision");
    ConfigChecks.atLeast("model.max-new-tokens", maxNewTokens, 1);
    ConfigChecks.atLeast("model.batch-size", predictBatchSize, 1);
    ConfigChecks.atLeast("evaluate.tokens-per-batch", tokensPerBatch, 1);
    ConfigChecks.atLeast("evaluate.cells-per-task", cellsPerTask, 1);
    ConfigChecks.atLeast("evaluate.max-cells", maxCells, 0);
    Objects.requireNonNull(split, "split");
    if (split.heldOutFraction() == 0) {
      throw new IllegalArgumentException("no held-out cells to evaluate: cellcircuits.split.held-out-fraction is 0, "
          + "so the harvest trained the transcoders on every cell; set it above 0 (e.g. 0.1) and rerun harvest, "
          + "train and evaluate");
    }
  }

  /** Greedy decoding of the cell type, as the harvest predicts it. */
  public PredictOptions predictOptions() {
    return new PredictOptions(maxNewTokens, predictBatchSize, stopAtPeriod);
  }

  /** Reads the {@code evaluate}, {@code model} and {@code split} sections (keys under {@code cellcircuits.}). */
  public static EvaluateParams fromConfig(Config all) {
    try {
      Config model = all.getConfig("cellcircuits.model");
      Config e = all.getConfig("cellcircuits.evaluate");
      return new EvaluateParams(
          model.getIsNull("path") ? null : model.getString("path"),
          model.getString("device"),
          model.getString("precision"),
          model.getInt("max-new-tokens"),
          model.getInt("batch-size"),
          model.getBoolean("stop-at-period"),
          e.getInt("tokens-per-batch"),
          e.getInt("cells-per-task"),
          e.getLong("max-cells"),
          CellSplit.fromConfig(all));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.evaluate or cellcircuits.model: " + e.getMessage(),
          e);
    }
  }
}
