package org.cellcircuits.model;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;

/**
 * The {@code cellcircuits.model} section: which checkpoint runs, where, in which number format, and how it decodes
 * a cell's type. The harvest and the evaluation read the same section, so they share this record and its checks:
 * both must load the model the same way for the evaluation to measure the transcoders the harvest fed.
 *
 * @param path HuggingFace checkpoint folder (local path or Hadoop URI)
 * @param device where the forward runs: {@code auto}, {@code cpu}, {@code gpu}, {@code gpu:N}
 * @param precision {@code auto}, {@code fp32}, {@code fp16}, {@code bf16}
 * @param batchSize prompts per greedy-decoding batch (model.batch-size, >= 1)
 * @param maxNewTokens most answer tokens greedy decoding generates (model.max-new-tokens, >= 1)
 * @param stopAtPeriod decoding stops at the first '.' (model.stop-at-period)
 */
public record ModelSettings(
    String path,
    String device,
    String precision,
    int batchSize,
    int maxNewTokens,
    boolean stopAtPeriod) implements Serializable {
  private static final long serialVersionUID = 1L;

  public ModelSettings {
    if (path == null || path.isBlank()) {
      throw new IllegalArgumentException("cellcircuits.model.path is not set; expected the model's HuggingFace "
          + "checkpoint folder (config.json, model.safetensors, tokenizer.json)");
    }
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(precision, "precision");
    // the spelling only, so a typo fails when the config loads, not on an executor; auto's meaning needs the device
    Precision.parse(precision, ai.djl.Device.cpu());
    ConfigChecks.atLeast("cellcircuits.model.batch-size", batchSize, 1);
    ConfigChecks.atLeast("cellcircuits.model.max-new-tokens", maxNewTokens, 1);
  }

  /** Greedy decoding of the cell type, the same in the harvest and the evaluation. */
  public PredictOptions predictOptions() {
    return new PredictOptions(maxNewTokens, batchSize, stopAtPeriod);
  }

  /** Reads {@code cellcircuits.model} of a loaded config. */
  public static ModelSettings fromConfig(Config all) {
    try {
      Config model = all.getConfig("cellcircuits.model");
      return new ModelSettings(
          model.getIsNull("path") ? null : model.getString("path"),
          model.getString("device"),
          model.getString("precision"),
          model.getInt("batch-size"),
          model.getInt("max-new-tokens"),
          model.getBoolean("stop-at-period"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.model: " + e.getMessage(), e);
    }
  }
}
