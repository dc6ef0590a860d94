package org.cellcircuits.transcoder;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import org.cellcircuits.io.ConfigChecks;

/**
 * How the {@code train} stage spreads and feeds the work, as opposed to the maths of each transcoder
 * ({@link TranscoderConfig}); both come from {@code cellcircuits.train}.
 *
 * <p>Two levels of distribution. With {@code workers = 1} each layer trains in one Spark task from start to end and
 * the layers train side by side (layer-parallel, no communication). With {@code workers > 1} the layers train one
 * after another, each step a Spark job: the layer's activations are cut into {@code shards} streams, every step takes
 * {@code batch / shards} rows from each, each of the {@code workers} tasks computes the summed gradient of its shards'
 * rows in {@code microBatchesPerSync} pieces, the driver adds them ({@code treeAggregate}) and applies one Adam
 * update. The global batch of a step depends on the shards, never on the workers, so 1 and 2 workers with the same
 * shards train the same weights (up to the order of float additions).
 *
 * @param layers layers to train; empty = every harvested layer
 * @param workers Spark tasks per step of one layer (>= 1); 1 = layer-parallel
 * @param shards data streams per layer for data-parallel training (>= workers, a multiple of it)
 * @param microBatchesPerSync pieces each shard's rows of a step are computed in (>= 1), bounding a task's memory
 * @param shuffleBufferRows rows each stream holds for shuffling (>= 1)
 * @param maxEpochs passes over the activations at most (>= 1)
 * @param checkpointEverySteps steps between checkpoints (>= 1)
 * @param device where training runs: auto | cpu | gpu | gpu:N
 */
public record TrainParams(List<Integer> layers, int workers, int shards, int microBatchesPerSync,
    int shuffleBufferRows, int maxEpochs, int checkpointEverySteps, String device) implements Serializable {
  private static final long serialVersionUID = 1L;

  public TrainParams {
    TreeSet<Integer> sorted = new TreeSet<>();
    for (Integer layer : layers) {
      if (layer == null || layer < 0 || !sorted.add(layer)) {
        throw new IllegalArgumentException(String.format(
            "cellcircuits.train.layers is %s; expected distinct block indices >= 0", layers));
      }
    }
    layers = List.copyOf(sorted);
    ConfigChecks.atLeast("cellcircuits.train.data-parallel-workers", workers, 1);
    ConfigChecks.atLeast("cellcircuits.train.data-shards", shards, workers);
    if (shards % workers != 0) {
      throw new IllegalArgumentException(String.format(
          "cellcircuits.train.data-shards is %d; it must be a multiple of data-parallel-workers (%d) so that every "
              + "worker reads as many shards", shards, workers));
    }
    ConfigChecks.atLeast("cellcircuits.train.micro-batches-per-sync", microBatchesPerSync, 1);
    ConfigChecks.atLeast("cellcircuits.train.shuffle-buffer-rows", shuffleBufferRows, 1);
    ConfigChecks.atLeast("cellcircuits.train.max-epochs", maxEpochs, 1);
    ConfigChecks.atLeast("cellcircuits.train.checkpoint-every-steps", checkpointEverySteps, 1);
    Objects.requireNonNull(device, "device");
  }

  /** Reads {@code cellcircuits.train}. */
  public static TrainParams fromConfig(Config all) {
    try {
      Config t = all.getConfig("cellcircuits.train");
      int workers = t.getInt("data-parallel-workers");
      int shards = t.getInt("data-shards");
      return new TrainParams(t.getIntList("layers"), workers, shards == 0 ? workers : shards,
          t.getInt("micro-batches-per-sync"), t.getInt("shuffle-buffer-rows"), t.getInt("max-epochs"),
          t.getInt("checkpoint-every-steps"), t.getString("device"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.train: " + e.getMessage(), e);
    }
  }

  /** True when each layer trains in a single task (no per-step synchronisation). */
  public boolean layerParallel() {
    return workers == 1 && shards == 1;
  }

  /**
   * Rows each shard gives each step: the global batch split evenly.
   *
   * @throws IllegalArgumentException when the batch does not split into shards x micro-batches equal pieces
   */
  public int rowsPerShardStep(int batch) {
    if (batch % (shards * microBatchesPerSync) != 0) {
      throw new IllegalArgumentException(String.format(
          "cellcircuits.train.train-batch-size-tokens (%d) must split evenly into data-shards (%d) x "
              + "micro-batches-per-sync (%d) pieces", batch, shards, microBatchesPerSync));
    }
    return batch / shards;
  }
}
