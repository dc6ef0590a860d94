package org.cellcircuits.harvest;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.model.ModelSettings;
import org.cellcircuits.sentences.CellSplit;

/**
 * Settings of one harvest: the {@code cellcircuits.harvest} section plus the {@code model} and {@code split} sections
 * it uses. Validated here, so an executor never meets a bad value after the job has started.
 *
 * @param model the checkpoint and how it runs and decodes the cells whose answer must be predicted
 *     ({@code cellcircuits.model})
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
    ModelSettings model,
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
    Objects.requireNonNull(model, "model");
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
    ConfigChecks.atLeast("cellcircuits.harvest.tokens-per-batch", tokensPerBatch, 1);
    ConfigChecks.atLeast("cellcircuits.harvest.cells-per-task", cellsPerTask, 1);
    Objects.requireNonNull(compression, "compression");
    Objects.requireNonNull(split, "split");
    if (rowGroupBytes < (1 << 20)) {
      throw new IllegalArgumentException(String.format(
          "cellcircuits.harvest.row-group-size is %d bytes; expected at least 1m", rowGroupBytes));
    }
  }

  /** Reads the {@code harvest}, {@code model} and {@code split} sections (keys under {@code cellcircuits.}). */
  public static HarvestParams fromConfig(Config all) {
    ModelSettings model = ModelSettings.fromConfig(all);
    Config h = all.getConfig("cellcircuits.harvest");
    try {
      TokenPolicy.Mode mode = TokenPolicy.parseMode(h.getString("tokens"));
      double fraction = h.getDouble("token-fraction");
      TokenPolicy policy = mode == TokenPolicy.Mode.FRACTION
          ? TokenPolicy.fraction(fraction, h.getLong("token-seed"))
          : new TokenPolicy(mode, 1.0, 0);
      return new HarvestParams(
          model,
          h.getIntList("layers"),
          policy,
          VectorFormat.parse("cellcircuits.harvest.vector-format", h.getString("vector-format")),
          h.getInt("tokens-per-batch"),
          h.getInt("cells-per-task"),
          codec(h.getString("compression")),
          h.getBytes("row-group-size"),
          CellSplit.fromConfig(all));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.harvest: " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      String m = e.getMessage();
      throw m != null && m.startsWith("cellcircuits.") ? e
          : new IllegalArgumentException("cellcircuits.harvest: " + m, e);
    }
  }

  private static CompressionCodecName codec(String text) {
    Map<String, CompressionCodecName> spellings = new LinkedHashMap<>();
    spellings.put("uncompressed", CompressionCodecName.UNCOMPRESSED);
    spellings.put("none", CompressionCodecName.UNCOMPRESSED);
    spellings.put("snappy", CompressionCodecName.SNAPPY);
    spellings.put("zstd", CompressionCodecName.ZSTD);
    spellings.put("gzip", CompressionCodecName.GZIP);
    spellings.put("lz4_raw", CompressionCodecName.LZ4_RAW);
    spellings.put("lz4-raw", CompressionCodecName.LZ4_RAW);
    return ConfigChecks.oneOf("cellcircuits.harvest.compression", text, spellings);
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
