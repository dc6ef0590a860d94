package org.cellcircuits.interpret;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import org.cellcircuits.io.ConfigChecks;

/**
 * How the {@code interpret} stage runs: the maths of {@link InterpretParams} plus its inputs (gene sets), the layers
 * it reads and how the pass over the harvest is cut. The whole {@code cellcircuits.interpret} section, validated here
 * so an executor never meets a bad value after the job has started; every error names its key.
 *
 * @param params the per-feature maths
 * @param markersPath a marker table (columns cell_type, gene; the demo's {@code demo/markers.tsv}) read as one gene set
 *     per cell type, or null
 * @param geneSetsPath a GMT file of gene sets, or null; with both set, the sets of both are tested (their names must
 *     differ)
 * @param layers the layers to interpret; empty = every layer with both harvested activations and a transcoder
 * @param device where the transcoders encode: auto | cpu | gpu | gpu:N
 * @param batchSize harvested tokens encoded per batch (>= 1)
 * @param featureShards passes over each layer's activations, each for a contiguous range of about d_sae / shards
 *     features (>= 1): a task's totals, and the driver's, then hold only that range
 */
public record InterpretSettings(InterpretParams params, String markersPath, String geneSetsPath, List<Integer> layers,
                                String device, int batchSize, int featureShards) implements Serializable {
  private static final long serialVersionUID = 1L;

  private static final Pattern DEVICE = Pattern.compile("auto|cpu|gpu|gpu:\\d+");

  public InterpretSettings {
    Objects.requireNonNull(params, "params");
    layers = List.copyOf(layers);
    for (int layer : layers) {
      if (layer < 0) {
        throw new IllegalArgumentException(String.format(
            "%s.layers lists layer %d; layers are block indices >= 0", InterpretParams.SECTION, layer));
      }
    }
    if (layers.stream().distinct().count() != layers.size()) {
      throw new IllegalArgumentException(String.format(
          "%s.layers is %s; a layer is listed twice", InterpretParams.SECTION, layers));
    }
    Objects.requireNonNull(device, "device");
    if (!DEVICE.matcher(device.trim().toLowerCase(Locale.ROOT)).matches()) {
      throw new IllegalArgumentException(String.format(
          "%s.device is '%s'; expected auto, cpu, gpu or gpu:N", InterpretParams.SECTION, device));
    }
    ConfigChecks.atLeast(InterpretParams.SECTION + ".batch-size", batchSize, 1);
    ConfigChecks.atLeast(InterpretParams.SECTION + ".feature-shards", featureShards, 1);
    if (markersPath != null && markersPath.isBlank()) {
      throw new IllegalArgumentException(InterpretParams.SECTION + ".markers-path is empty; set a file or null");
    }
    if (geneSetsPath != null && geneSetsPath.isBlank()) {
      throw new IllegalArgumentException(InterpretParams.SECTION + ".gene-sets-path is empty; set a file or null");
    }
  }

  /** Reads the {@code cellcircuits.interpret} section. */
  public static InterpretSettings fromConfig(Config all) {
    InterpretParams params = InterpretParams.fromConfig(all);
    try {
      Config c = all.getConfig(InterpretParams.SECTION);
      return new InterpretSettings(params,
          c.getIsNull("markers-path") ? null : c.getString("markers-path"),
          c.getIsNull("gene-sets-path") ? null : c.getString("gene-sets-path"),
          c.getIntList("layers"),
          c.getString("device"),
          c.getInt("batch-size"),
          c.getInt("feature-shards"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in " + InterpretParams.SECTION + ": " + e.getMessage(), e);
    }
  }

  /**
   * The range of features shard {@code shard} covers: {@code [start, end)}, contiguous, the first {@code d_sae %
   * shards} shards one feature longer. Shards beyond d_sae are empty.
   */
  public static int[] featureRange(int dSae, int shards, int shard) {
    if (shard < 0 || shard >= shards) {
      throw new IllegalArgumentException(String.format("shard %d of %d", shard, shards));
    }
    int base = dSae / shards;
    int extra = dSae % shards;
    int start = shard * base + Math.min(shard, extra);
    int end = start + base + (shard < extra ? 1 : 0);
    return new int[] {start, end};
  }
}
