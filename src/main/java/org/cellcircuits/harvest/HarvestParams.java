package org.cellcircuits.harvest;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.TreeSet;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.sentences.CellSplit;

/**
 * Settings of one harvest: the {@code cellcircuits.harvest} section plus the {@code cellcircuits.model} keys it uses.
 * Validated here, so an executor never meets a bad value after the job has started.
 *
 * @param modelPath HuggingFace checkpoint folder (local path or Hadoop URI)
 * @param device where the forward runs: {@code auto}, {@code cpu}, {@code gpu}, {@code gpu:N}
 * @param precision {@code auto}, {@code fp32}, {@code fp16}, {@code bf16}
 * @param predictBatchSize prompts per greedy-decoding batch, for cells whose answer must be decoded (>= 1)
 * @param maxNewTokens most answer tokens greedy decoding generates (>= 1)
 * @param stopAtPeriod decoding stops at the first '.'
 * @param layers block indices to store, increasing, without duplicates; empty = every layer of the model
 * @param tokens which prompt tokens to store
 * @param vectorFormat how vectors are stored
 * @param tokensPerBatch most padded tokens per forward batch (>= 1)
 * @param cellsPerTask cells per Spark task (>= 1)
 * @param compression Parquet codec of the activation files
 * @param rowGroupBytes Parquet row group size of the activation files, bytes (>= 1 MiB)
 * @param split cells whose activations are not stored (held out for evaluation); they are still predicted
 */
public record HarvestParams(
    String modelPath,
    String device,
    String precision,
    int predictBatchSize,
    int maxNewTokens,
    boolean stopAtPeriod,
    List<Integer> layers,
    TokenPolicy tokens,
    VectorFormat vectorFormat,
    int tokensPerBatch,
    int cellsPerTask,
    CompressionCodecName compression,
    long rowGroupBytes,
    CellSplit split) implements Serializable {
  private static final long serialVersionUID = 1L;

  public HarvestParams {
    if (modelPath == null || modelPath.isBlank()) {
      throw new IllegalArgumentException("cellcircuits.model.path is not set; the harvest needs a model checkpoint folder");
    }
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(precision, "precision");
    ConfigChecks.atLeast("model.batch-size", predictBatchSize, 1);
    ConfigChecks.atLeast("model.max-new-tokens", maxNewTokens, 1);
    TreeSet<Integer> sorted = new TreeSet<>();
    for (Integer layer : layers) {
      if (layer == null || layer < 0) {
        throw new IllegalArgumentException(String.format(
            "cellcircuits.harvest.layers holds %s; expected block indices >= 0", layer));
      }
      if (!sorted.add(layer)) {
        throw new IllegalArgumentException(String.format(
            "cellcircuits.harvest.layers names layer %d twice", layer));
      }
    }
    layers = List.copyOf(sorted);
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(vectorFormat, "vectorFormat");
    ConfigChecks.atLeast("harvest.tokens-per-batch", tokensPerBatch, 1);
    ConfigChecks.atLeast("harvest.cells-per-task", cellsPerTask, 1);
    Objects.requireNonNull(compression, "compression");
    Objects.requireNonNull(split, "split");
    if (rowGroupBytes < (1 << 20)) {
      throw new IllegalArgumentException(String.format(
          "cellcircuits.harvest.row-group-size is %d bytes; expected at least 1m", rowGroupBytes));
    }
  }

  /** Reads the {@code harvest} and {@code model} sections of a loaded config (keys under {@code cellcircuits.}). */
  public static HarvestParams fromConfig(Config all) {
    Config model = all.getConfig("cellcircuits.model");
    Config h = all.getConfig("cellcircuits.harvest");
    try {
      TokenPolicy.Mode mode = TokenPolicy.parseMode(h.getString("tokens"));
      double fraction = h.getDouble("token-fraction");
      TokenPolicy policy = mode == TokenPolicy.Mode.FRACTION
          ? TokenPolicy.fraction(fraction, h.getLong("token-seed"))
          : new TokenPolicy(mode, 1.0, 0);
      return new HarvestParams(
          model.getIsNull("path") ? null : model.getString("path"),
          model.getString("device"),
          model.getString("precision"),
          model.getInt("batch-size"),
          model.getInt("max-new-tokens"),
          model.getBoolean("stop-at-period"),
          h.getIntList("layers"),
          policy,
          VectorFormat.parse(h.getString("vector-format")),
          h.getInt("tokens-per-batch"),
          h.getInt("cells-per-task"),
          codec(h.getString("compression")),
          h.getBytes("row-group-size"),
          CellSplit.fromConfig(all));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.harvest or cellcircuits.model: " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      String m = e.getMessage();
      throw m != null && m.startsWith("cellcircuits.") ? e
          : new IllegalArgumentException("cellcircuits.harvest: " + m, e);
    }
  }

  private static CompressionCodecName codec(String text) {
    return switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "uncompressed", "none" -> CompressionCodecName.UNCOMPRESSED;
      case "snappy" -> CompressionCodecName.SNAPPY;
      case "zstd" -> CompressionCodecName.ZSTD;
      case "gzip" -> CompressionCodecName.GZIP;
      case "lz4_raw", "lz4-raw" -> CompressionCodecName.LZ4_RAW;
      default -> throw new IllegalArgumentException(String.format(
          "compression '%s' is not one of uncompressed, snappy, zstd, gzip, lz4_raw", text));
    };
  }

  /** The layers to store for a model of {@code numLayers} blocks; every index must exist in it. */
  public List<Integer> layersFor(int numLayers, String model) {
    if (layers.isEmpty()) {
      return java.util.stream.IntStream.range(0, numLayers).boxed().toList();
    }
    for (int layer : layers) {
      if (layer >= numLayers) {
        throw new IllegalArgumentException(String.format(
            "cellcircuits.harvest.layers names layer %d, but model %s has %d layers (0..%d)",
            layer, model, numLayers, numLayers - 1));
      }
    }
    return layers;
  }
}
