package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDManager;
import java.util.Iterator;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.cellcircuits.harvest.ActivationStore;

/**
 * A harvested layer as a {@link ShardSource}: shard {@code s} of {@code S} is {@link ActivationStore#shard} (whole
 * files), read by {@link HarvestedBatches} with the shuffle buffer of {@code train.shuffle-buffer-rows}; the worker
 * tasks are {@code parallelize(0..N-1)} and read the files themselves.
 */
public record HarvestShards(ActivationStore store) implements ShardSource {
  private static final long serialVersionUID = 1L;

  @Override
  public String key() {
    return store.layerDir();
  }

  @Override
  public long rows() {
    return store.rows();
  }

  @Override
  public void requireShards(int layer, int shards) {
    if (store.files().size() < shards) {
      throw new IllegalArgumentException(String.format(
          "layer %d: data-parallel training cuts the activations into train.data-shards = %d shards of whole files, "
              + "but the harvest wrote %d file(s) for this layer; lower data-shards or harvest with a smaller "
              + "harvest.cells-per-task", layer, shards, store.files().size()));
    }
  }

  @Override
  public JavaRDD<?> workerTasks(JavaSparkContext jsc, int workers, int shards) {
    return jsc.parallelize(IntStream.range(0, workers).boxed().toList(), workers);
  }

  @Override
  public TrainingBatches open(int shard, int shards, int batchRows, long seed, TrainParams params,
      TranscoderKind kind, NDManager manager, Configuration conf, Iterator<?> taskRows) {
    ActivationStore part = shards == 1 ? store : store.shard(shard, shards);
    return new HarvestedBatches(part, conf, batchRows, params.shuffleBufferRows(), seed, params.maxEpochs(), kind,
        manager);
  }

  @Override
  public TrainingBatches resampleStream(int batchRows, long seed, TrainParams params, TranscoderKind kind,
      NDManager manager, Configuration conf) {
    return new HarvestedBatches(store, conf, batchRows, params.shuffleBufferRows(), seed, Integer.MAX_VALUE, kind,
        manager);
  }
}
