package org.cellcircuits.ml;

import ai.djl.ndarray.NDManager;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.Partition;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.PartitionCoalescer;
import org.apache.spark.rdd.PartitionGroup;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.cellcircuits.transcoder.ArrayBatches;
import org.cellcircuits.transcoder.ShardSource;
import org.cellcircuits.transcoder.TrainParams;
import org.cellcircuits.transcoder.TrainingBatch;
import org.cellcircuits.transcoder.TrainingBatches;
import org.cellcircuits.transcoder.TranscoderKind;
import scala.Option;

/**
 * A DataFrame's rows as the data-parallel trainer's {@link ShardSource}: shard {@code s} of {@code S} is the
 * Dataset's partitions {@code p} with {@code p mod S = s}, in partition order and, within one, in row order (no
 * shuffle buffer: the rows' order is the Dataset's, as in the driver-side fit). Worker {@code w} of {@code N} owns
 * shards {@code s mod N = w}, so partitions {@code p mod N = w}: the worker tasks are the Dataset's partitions grouped
 * that way without a shuffle ({@code coalesce} with {@link ByWorker}). A worker task reads its partitions only when
 * its executor does not hold its shards yet (the first step, or a task moved or retried); it then keeps their rows in
 * float arrays for the following steps, so executors hold their shards' rows (4 bytes a value) for the whole fit.
 * The driver's resampling stream reads the Dataset in order ({@code DatasetBatches}), ignoring its seed.
 */
final class DatasetShards implements ShardSource {
  private static final long serialVersionUID = 1L;
  /** Rows of the shards this executor has read, per key#shards#shard; one fit's at a time. */
  private static final Map<String, float[][]> HELD = new HashMap<>();
  private static String heldKey;

  private final transient Dataset<Row> rows; // (input, target) or (input)
  private final String inputCol;
  private final String targetCol;
  private final int dIn;
  private final int dOut;
  private final boolean autoencoding;
  private final String key;
  private final int partitions;
  private final long count;

  DatasetShards(Dataset<Row> rows, String inputCol, String targetCol, int dIn, int dOut, boolean autoencoding) {
    this.rows = rows;
    this.inputCol = inputCol;
    this.targetCol = targetCol;
    this.dIn = dIn;
    this.dOut = dOut;
    this.autoencoding = autoencoding;
    this.key = "dataset-" + UUID.randomUUID();
    this.partitions = rows.rdd().getNumPartitions();
    this.count = rows.count();
  }

  @Override
  public String key() {
    return key;
  }

  @Override
  public long rows() {
    return count;
  }

  @Override
  public void requireShards(int layer, int shards) {
    if (partitions < shards) {
      throw new IllegalArgumentException(String.format("layer %d: data-parallel fit cuts the Dataset into "
          + "dataShards = %d shards of whole partitions, but it has %d partition(s); lower dataShards or give the "
          + "Dataset more partitions (in a fixed order)", layer, shards, partitions));
    }
  }

  /** One row, tagged with the Dataset partition it came from. */
  record ShardRow(int partition, float[] input, float[] target) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  @Override
  public JavaRDD<?> workerTasks(JavaSparkContext jsc, int workers, int shards) {
    String in = inputCol;
    String out = targetCol;
    int di = dIn;
    int dt = dOut;
    boolean sae = autoencoding;
    JavaRDD<ShardRow> tagged = rows.javaRDD().mapPartitionsWithIndex((p, it) -> new Iterator<ShardRow>() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public ShardRow next() {
        Row r = it.next();
        float[] x = new float[di];
        ActivationValues.read(r, 0, in, di, x, 0);
        float[] y = null;
        if (!sae) {
          y = new float[dt];
          ActivationValues.read(r, 1, out, dt, y, 0);
        }
        return new ShardRow(p, x, y);
      }
    }, true);
    RDD<ShardRow> grouped = tagged.rdd().coalesce(workers, false,
        Option.<PartitionCoalescer>apply(new ByWorker(workers)), null);
    return grouped.toJavaRDD();
  }

  /** Groups partition {@code p} into worker {@code p mod N}'s task, in partition order. */
  static final class ByWorker implements PartitionCoalescer, scala.Serializable { // CoalescedRDD asks for scala.Serializable
    private static final long serialVersionUID = 1L;
    private final int workers;

    ByWorker(int workers) {
      this.workers = workers;
    }

    @Override
    public PartitionGroup[] coalesce(int maxPartitions, RDD<?> parent) {
      PartitionGroup[] groups = new PartitionGroup[workers];
      for (int w = 0; w < workers; w++) {
        groups[w] = new PartitionGroup(Option.<String>empty());
      }
      Partition[] ps = parent.partitions();
      for (int p = 0; p < ps.length; p++) {
        groups[p % workers].partitions().$plus$eq(ps[p]);
      }
      return groups;
    }
  }

  @Override
  public TrainingBatches open(int shard, int shards, int batchRows, long seed, TrainParams params,
      TranscoderKind kind, NDManager manager, Configuration conf, Iterator<?> taskRows) {
    float[][] data = held(shard, shards, taskRows);
    int maxEpochs = params.maxEpochs();
    String name = String.format("shard %d of %d of the Dataset", shard, shards);
    ArrayBatches cycle = new ArrayBatches(data[0], data[1], dIn, dOut, batchRows, true, name);
    long limit = (long) maxEpochs * (data[0].length / dIn);
    return new TrainingBatches() {
      @Override
      public TrainingBatch next(NDManager m) {
        return cycle.tokensSeen() >= limit ? null : cycle.next(m);
      }

      @Override
      public long tokensSeen() {
        return cycle.tokensSeen();
      }
    };
  }

  /** Shard {@code shard}'s rows as {input, target (null for an SAE)}, reading this task's rows if not held yet. */
  private float[][] held(int shard, int shards, Iterator<?> taskRows) {
    synchronized (HELD) {
      if (!key.equals(heldKey)) {
        HELD.clear();
        heldKey = key;
      }
      String prefix = key + "#" + shards + "#";
      if (!HELD.containsKey(prefix + shard) && taskRows.hasNext()) {
        Map<Integer, List<ShardRow>> byShard = new HashMap<>();
        while (taskRows.hasNext()) {
          ShardRow r = (ShardRow) taskRows.next();
          byShard.computeIfAbsent(r.partition() % shards, s -> new ArrayList<>()).add(r);
        }
        byShard.forEach((s, list) -> HELD.put(prefix + s, flatten(list)));
      }
      float[][] data = HELD.get(prefix + shard);
      if (data == null) {
        throw new IllegalStateException(String.format("shard %d of %d of the Dataset: no rows reached this worker "
            + "task (its partitions are empty?)", shard, shards));
      }
      return data;
    }
  }

  private float[][] flatten(List<ShardRow> list) {
    float[] x = new float[list.size() * dIn];
    float[] y = autoencoding ? null : new float[list.size() * dOut];
    for (int i = 0; i < list.size(); i++) {
      System.arraycopy(list.get(i).input(), 0, x, i * dIn, dIn);
      if (y != null) {
        System.arraycopy(list.get(i).target(), 0, y, i * dOut, dOut);
      }
    }
    return new float[][] {x, y};
  }

  @Override
  public TrainingBatches resampleStream(int batchRows, long seed, TrainParams params, TranscoderKind kind,
      NDManager manager, Configuration conf) {
    return new DatasetBatches(rows, inputCol, targetCol, dIn, dOut, batchRows, Integer.MAX_VALUE, autoencoding);
  }
}
