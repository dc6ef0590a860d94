package org.cellcircuits.transcoder;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.cellcircuits.runtime.TaskDevice;

/**
 * The executor side of data-parallel training: a worker owns shards {@code w, w + N, w + 2N, ...} of a layer's
 * activations ({@link ShardSource}: the harvest's files or a DataFrame's partitions) and, each step, sums the
 * gradients of its shards' rows at the weights the driver broadcast.
 *
 * <p>Spark runs every step as a new job, but re-reading a shard from its start each step would make a run quadratic.
 * So each executor JVM keeps its shards' open streams (and a replica trainer per worker) between steps, keyed by
 * everything that defines the stream. The driver sends the position each shard must be at; a cached stream at another
 * position (a task moved to another executor, a retried task) is reopened and skipped forward, so the batches never
 * depend on where a task ran. Only one layer's state is kept: a task of another layer clears the caches.
 */
final class ShardWorker {
  private static final Map<String, Stream> STREAMS = new HashMap<>();
  private static final Map<String, TranscoderTrainer> REPLICAS = new HashMap<>();
  private static String currentLayer;

  private ShardWorker() {}

  private record Stream(NDManager manager, TrainingBatches batches) {
    void close() {
      if (batches instanceof AutoCloseable c) {
        try {
          c.close();
        } catch (Exception e) {
          throw new IllegalStateException("closing a shard's stream: " + e.getMessage(), e);
        }
      }
      manager.close();
    }
  }

  /** Summed gradients of worker {@code w}'s shards for one step, and where those shards stand after it. */
  static TrainJob.StepContribution gradients(TrainJob.ShardedLayer plan, TrainParams params,
      int microRows, ActivationScaling scaling, int worker, TrainJob.StepInput input,
      Configuration conf, Iterator<?> taskRows) {
    TranscoderConfig c = plan.config();
    long[] positions = new long[params.shards()];
    Arrays.fill(positions, -1);
    Gradients sum = null;
    synchronized (ShardWorker.class) {
      useLayer(plan, c);
    }
    TrainJob.useTaskCores(device(params));
    TranscoderTrainer replica = replica(c, scaling, worker, params);
    replica.syncTo(input.step(), input.weights(), input.deadFeatures());
    for (int s = worker; s < params.shards(); s += params.workers()) {
      Stream stream = stream(plan, params, microRows, s, input.positions()[s], conf, taskRows);
      for (int k = 0; k < params.microBatchesPerSync(); k++) {
        try (NDManager m = stream.manager().newSubManager()) {
          TrainingBatch b = stream.batches().next(m);
          if (b == null) {
            throw new IllegalStateException(String.format(
                "layer %d: shard %d of %d ran out of activations after %d rows, at step %d of %d; lower "
                    + "train.training-tokens, raise train.max-epochs (now %d) or harvest more cells", plan.layer(), s,
                params.shards(), stream.batches().tokensSeen(), input.step(), c.totalSteps(), params.maxEpochs()));
          }
          Gradients g = replica.gradients(b);
          sum = sum == null ? g : sum.plus(g);
        }
      }
      positions[s] = stream.batches().tokensSeen();
    }
    return new TrainJob.StepContribution(sum, positions);
  }

  /** Sums of squared norms over the scaling-batches worth of rows each of the worker's shards gives first. */
  static TrainJob.ScalingSums scalingSums(TrainJob.ShardedLayer plan, TrainParams params,
      int microRows, int worker, long[] start, Configuration conf, Iterator<?> taskRows) {
    TranscoderConfig c = plan.config();
    synchronized (ShardWorker.class) {
      useLayer(plan, c);
    }
    TrainJob.useTaskCores(device(params));
    long[] positions = new long[params.shards()];
    Arrays.fill(positions, -1);
    double in = 0;
    double target = 0;
    long rows = 0;
    int batches = c.scalingBatches() * params.microBatchesPerSync();
    for (int s = worker; s < params.shards(); s += params.workers()) {
      Stream stream = stream(plan, params, microRows, s, start[s], conf, taskRows);
      for (int k = 0; k < batches; k++) {
        try (NDManager m = stream.manager().newSubManager()) {
          TrainingBatch b = stream.batches().next(m);
          if (b == null) {
            break;
          }
          double bx = TranscoderTrainer.squaredNormSum(b.input());
          double bt = b.target() == b.input() ? bx : TranscoderTrainer.squaredNormSum(b.target());
          if (!Double.isFinite(bx) || !Double.isFinite(bt)) {
            throw new IllegalArgumentException(String.format(
                "layer %d: a non-finite activation while estimating the scaling factors, first row: %s",
                plan.layer(), b.rowName().apply(0)));
          }
          in += bx;
          target += bt;
          rows += b.rows();
        }
      }
      positions[s] = stream.batches().tokensSeen();
    }
    return new TrainJob.ScalingSums(in, target, rows, positions);
  }

  private static void useLayer(TrainJob.ShardedLayer plan, TranscoderConfig c) {
    String key = plan.source().key() + "#" + c.hash();
    if (!key.equals(currentLayer)) {
      STREAMS.values().forEach(Stream::close);
      STREAMS.clear();
      REPLICAS.values().forEach(TranscoderTrainer::close);
      REPLICAS.clear();
      currentLayer = key;
    }
  }

  private static synchronized TranscoderTrainer replica(TranscoderConfig c, ActivationScaling scaling, int worker,
      TrainParams params) {
    String key = c.hash() + "#" + scaling + "#" + worker;
    return REPLICAS.computeIfAbsent(key, k -> TranscoderTrainer.replica(c, scaling, device(params)));
  }

  private static Device device(TrainParams params) {
    return TaskDevice.resolve(params.device());
  }

  /** Shard {@code s}'s stream, at exactly {@code position} rows handed out. */
  private static Stream stream(TrainJob.ShardedLayer plan, TrainParams params, int microRows, int s,
      long position, Configuration conf, Iterator<?> taskRows) {
    TranscoderConfig c = plan.config();
    String key = String.join("#", plan.source().key(), Integer.toString(s), Integer.toString(params.shards()),
        Integer.toString(microRows), Long.toString(c.seed()), Integer.toString(params.shuffleBufferRows()),
        Integer.toString(params.maxEpochs()), c.kind().name());
    Stream stream;
    synchronized (ShardWorker.class) {
      stream = STREAMS.get(key);
      if (stream != null && stream.batches().tokensSeen() != position) {
        stream.close();
        STREAMS.remove(key);
        stream = null;
      }
      if (stream == null) {
        NDManager manager = NDManager.newBaseManager(device(params));
        // The shard's own seed: shards of one layer must not shuffle alike.
        long seed = params.shards() == 1 ? c.seed() : c.seed() + 1_000_003L * s;
        stream = new Stream(manager, plan.source().open(s, params.shards(), microRows, seed, params, c.kind(),
            manager, conf, taskRows));
        while (stream.batches().tokensSeen() < position) {
          try (NDManager m = manager.newSubManager()) {
            if (stream.batches().next(m) == null) {
              break;
            }
          }
        }
        if (stream.batches().tokensSeen() != position) {
          long at = stream.batches().tokensSeen();
          stream.close();
          throw new IllegalStateException(String.format(
              "layer %d shard %d: skipping to row %d stopped at %d; the shard's data changed since the checkpoint",
              plan.layer(), s, position, at));
        }
        STREAMS.put(key, stream);
      }
    }
    return stream;
  }
}
