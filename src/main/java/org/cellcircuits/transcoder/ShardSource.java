package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDManager;
import java.io.Serializable;
import java.util.Iterator;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Where data-parallel training ({@link TrainJob#trainDataParallel}) gets a layer's rows: the harvest's
 * files ({@link HarvestShards}, the {@code train} stage) or a DataFrame's partitions ({@code ml.TranscoderEstimator}).
 * The rows are cut into {@code shards} disjoint streams; worker {@code w} owns shards {@code w, w + N, ...}. Every
 * step is a Spark job over {@link #workerTasks}: its partition {@code w} is worker {@code w}'s task, and what that
 * partition yields is handed to {@link #open} (the harvest's tasks yield nothing and read files; a DataFrame's yield
 * its shards' rows). A shard's stream must be a pure function of the data, the shard, the batch size and the seed, so
 * that a stream reopened on another executor and skipped forward gives the same batches.
 */
public interface ShardSource extends Serializable {

  /** Names the data in the executors' stream caches: equal keys, equal rows. */
  String key();

  /** Rows in all (counts epochs). */
  long rows();

  /** Fails, naming {@code layer}, the setting and the limit, when the data cannot be cut into {@code shards}. */
  void requireShards(int layer, int shards);

  /** The RDD whose partition {@code w} (of {@code workers}) is worker {@code w}'s task; made once per layer. */
  JavaRDD<?> workerTasks(JavaSparkContext jsc, int workers, int shards);

  /**
   * Shard {@code shard}'s stream, from its start.
   *
   * @param taskRows what this task's partition of {@link #workerTasks} yields (drained at most once a task)
   */
  TrainingBatches open(int shard, int shards, int batchRows, long seed, TrainParams params, TranscoderKind kind,
      NDManager manager, Configuration conf, Iterator<?> taskRows);

  /** The driver's stream of whole batches for resampling dead features (its own seed), endless or long. */
  TrainingBatches resampleStream(int batchRows, long seed, TrainParams params, TranscoderKind kind,
      NDManager manager, Configuration conf);
}
