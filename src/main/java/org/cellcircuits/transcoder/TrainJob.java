package org.cellcircuits.transcoder;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.harvest.ActivationStore;
import org.cellcircuits.runtime.TaskDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains the transcoders of a run on Spark, with either level of distribution ({@link TrainParams}):
 * layer-parallel (one task per layer, {@link TranscoderTrainer#train} from start to end) or data-parallel (per step a
 * Spark job whose tasks return summed {@link Gradients} that the driver adds with {@code treeReduce} and applies).
 * Either way a layer resumes from its newest checkpoint ({@link TrainingCheckpoints}) and ends by writing its
 * transcoder to {@code <attemptDir>/transcoders/layer=L} ({@link TranscoderStore#layerTable}).
 */
public final class TrainJob {
  private static final Logger LOG = LoggerFactory.getLogger(TrainJob.class);
  /** Seeds the driver's own stream of resampling batches in data-parallel training, apart from the shards'. */
  static final long RESAMPLE_SEED_SALT = 0x5EED_0F_DEADL;

  /** Tests: a layer's training throws after this many steps of the run (checkpoints up to there are kept). */
  static volatile long crashAfterStepForTests = -1;

  /**
   * Tests: runs in a layer-parallel task after each checkpoint is published, with the step (throw on one attempt to
   * simulate a lost executor, block to hold a driver mid-stage).
   */
  static volatile java.util.function.ObjLongConsumer<TaskContext> afterCheckpointForTests = (tc, step) -> {};

  private TrainJob() {}

  /**
   * One layer to train.
   *
   * @param store its harvested activations (training cells only)
   * @param config the maths
   */
  public record LayerPlan(int layer, ActivationStore store, TranscoderConfig config) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * What training a layer did.
   *
   * @param log every step's record, from step 0 (a resumed run's earlier steps included)
   * @param resumedAtStep the step the run resumed from (0 for a fresh start)
   * @param epochs passes over the activations begun
   */
  public record LayerOutcome(int layer, List<StepRecord> log, ActivationScaling scaling, long tokensSeen,
      long resumedAtStep, int epochs, double seconds) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * Trains every planned layer and writes each transcoder; returns the outcomes in layer order.
   *
   * @param stepsDone counts every step taken (null: none); named, it shows live on the Spark UI's stage page
   */
  public static List<LayerOutcome> run(JavaSparkContext jsc, List<LayerPlan> plans, TrainParams params,
      TrainingCheckpoints checkpoints, String attemptDir, boolean overwrite, LongAccumulator stepsDone)
      throws IOException {
    Configuration hadoop = jsc.hadoopConfiguration();
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
    List<LayerOutcome> out = new ArrayList<>();
    if (params.layerParallel()) {
      LOG.info("train: {} layers side by side, one task each (layer-parallel)", plans.size());
      jsc.setJobDescription(String.format(Locale.ROOT, "train: %d transcoders, one task per layer", plans.size()));
      out.addAll(jsc.parallelize(plans, plans.size())
          .map(p -> trainWholeLayer(p, params, checkpoints, attemptDir, overwrite, conf.value().value(),
              stepsDone))
          .collect());
    } else {
      for (LayerPlan p : plans) {
        out.add(trainDataParallel(jsc, p, params, checkpoints, attemptDir, overwrite, conf, stepsDone));
      }
    }
    out.sort((a, b) -> Integer.compare(a.layer(), b.layer()));
    return out;
  }

  // ---- layer-parallel ----------------------------------------------------------------------------------------

  static LayerOutcome trainWholeLayer(LayerPlan plan, TrainParams params, TrainingCheckpoints checkpoints,
      String attemptDir, boolean overwrite, Configuration conf, LongAccumulator stepsDone) throws IOException {
    long t0 = System.nanoTime();
    TranscoderConfig c = plan.config();
    int layer = plan.layer();
    Device device = TaskDevice.resolve(params.device());
    int threads = useTaskCores(device);
    LOG.info("train layer {}: one task on {}{}", layer, device, threads > 0 ? ", " + threads + " libtorch thread(s)" : "");
    JsonObject layout = new JsonObject();
    layout.addProperty("mode", "layer-parallel");
    layout.addProperty("batch_rows", c.trainBatchSizeTokens());
    layout.addProperty("shuffle_buffer_rows", params.shuffleBufferRows());
    layout.addProperty("max_epochs", params.maxEpochs());
    TranscoderTrainer trainer = null;
    long resumedAt = 0;
    var resumed = checkpoints.resumeLatest(layer, c, device, conf, overwrite);
    if (resumed.isPresent()) {
      trainer = resumed.get().trainer();
      resumedAt = trainer.step();
      requireSameLayout(resumed.get().layout(), layout, layer, checkpoints);
      LOG.info("train layer {}: resuming from the checkpoint at step {}", layer, resumedAt);
    } else {
      trainer = TranscoderTrainer.create(c, device);
    }
    java.nio.file.Path local = LocalCheckpointFolders.create();
    try (TranscoderTrainer t = trainer;
        NDManager manager = NDManager.newBaseManager(device);
        HarvestedBatches batches = new HarvestedBatches(plan.store(), conf, c.trainBatchSizeTokens(),
            params.shuffleBufferRows(), c.seed(), params.maxEpochs(), c.kind(), manager)) {
      TrainOptions options = TrainOptions.logTo(LOG::info, "layer " + layer)
          .withCheckpoints(local, params.checkpointEverySteps())
          .afterEachCheckpoint(dir -> {
            long step = TrainerCheckpoint.stepOf(dir);
            checkpoints.publish(layer, step, dir, layout, conf);
            afterCheckpointForTests.accept(TaskContext.get(), step);
          })
          .afterEachStep(r -> {
            if (stepsDone != null) {
              stepsDone.add(1);
            }
            // A sibling layer failed and Spark asked this task to stop: stop between steps, so that the driver
            // (StageRunner) is not left waiting while this layer trains on.
            TaskContext task = TaskContext.get();
            if (task != null) {
              task.killTaskIfInterrupted();
            }
          });
      long crash = crashAfterStepForTests;
      if (crash >= 0) {
        options = options.stoppingAfter(crash);
      }
      try {
        t.train(batches, options);
      } catch (IllegalStateException e) {
        if (e.getMessage() != null && e.getMessage().contains("ran out")) {
          throw new IllegalStateException(String.format("%s, or raise train.max-epochs (now %d)", e.getMessage(),
              params.maxEpochs()), e);
        }
        throw e;
      }
      if (crash >= 0 && !t.isDone()) {
        throw new IllegalStateException("layer " + layer + ": stopped at step " + t.step() + " for a test");
      }
      try (Transcoder tc = t.transcoder()) {
        TranscoderStore.save(tc, new Path(attemptDir, TranscoderStore.layerTable(layer)), conf);
      }
      return new LayerOutcome(layer, t.log(), t.scaling(), t.tokensSeen(), resumedAt, batches.epochsBegun(),
          (System.nanoTime() - t0) / 1e9);
    } finally {
      org.cellcircuits.io.HadoopFolders.deleteRecursively(local);
    }
  }

  /**
   * Gives libtorch's intra-op pool on the calling task thread the cores Spark gave the task ({@code spark.task.cpus}),
   * as the harvest does: libtorch otherwise uses every core of the machine on each calling thread, so an executor that
   * trains several layers, or runs several data-parallel workers, at once oversubscribes its cores. The setting is per
   * thread, so every task makes it. Returns the thread count set, or 0 outside a Spark task or on a GPU.
   */
  public static int useTaskCores(Device device) {
    TaskContext tc = TaskContext.get();
    if (tc == null || device.isGpu()) {
      return 0;
    }
    Engine.getInstance(); // loads libtorch before the JNI call
    JniUtils.setNumThreads(tc.cpus());
    return tc.cpus();
  }

  private static void requireSameLayout(JsonObject saved, JsonObject now, int layer, TrainingCheckpoints cps) {
    for (String key : now.keySet()) {
      if (key.equals("positions") || key.equals("resample_batches")) {
        continue;
      }
      if (!now.get(key).equals(saved.get(key))) {
        throw new IllegalArgumentException(String.format(
            "layer %d: the checkpoint under %s cut the data as %s, this run as %s (%s differs); resume with the "
                + "same train settings or rerun with --overwrite to start over", layer, cps.layerDir(layer),
            saved, now, key));
      }
    }
  }

  // ---- data-parallel -----------------------------------------------------------------------------------------

  /** Shard positions of two workers (each reports -1 for the shards it does not own) as one array. */
  static long[] mergePositions(long[] a, long[] b) {
    long[] p = a.clone();
    for (int i = 0; i < p.length; i++) {
      p[i] = Math.max(p[i], b[i]);
    }
    return p;
  }

  /** What the driver sends each worker for one step. */
  record StepInput(long step, float[] weights, int[] deadFeatures, long[] positions) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** A worker's part of a step: summed gradients of its shards' rows and where each of its shards now stands. */
  record StepContribution(Gradients gradients, long[] positions) implements Serializable {
    private static final long serialVersionUID = 1L;

    StepContribution plus(StepContribution o) {
      return new StepContribution(gradients.plus(o.gradients), mergePositions(positions, o.positions));
    }
  }

  /** Squared-norm sums of the scaling estimate, per worker. */
  record ScalingSums(double input, double target, long rows, long[] positions) implements Serializable {
    private static final long serialVersionUID = 1L;

    ScalingSums plus(ScalingSums o) {
      return new ScalingSums(input + o.input, target + o.target, rows + o.rows, mergePositions(positions, o.positions));
    }
  }

  /**
   * One layer to train data-parallel, from any {@link ShardSource}.
   *
   * @param config the maths
   */
  public record ShardedLayer(int layer, ShardSource source, TranscoderConfig config) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** Runs on the driver after each data-parallel step: the stage's step counter, checkpoints and test hook. */
  @FunctionalInterface
  public interface AfterStep {
    /**
     * @param positions rows each shard has handed out
     * @param resampleBatches batches the resampling stream has handed out
     */
    void accept(TranscoderTrainer trainer, long[] positions, long resampleBatches) throws IOException;
  }

  /** The stage's data-parallel layer: resumes from its newest checkpoint, checkpoints, saves the transcoder. */
  static LayerOutcome trainDataParallel(JavaSparkContext jsc, LayerPlan plan, TrainParams params,
      TrainingCheckpoints checkpoints, String attemptDir, boolean overwrite,
      Broadcast<SerializableConfiguration> conf, LongAccumulator stepsDone) throws IOException {
    long t0 = System.nanoTime();
    TranscoderConfig c = plan.config();
    int layer = plan.layer();
    int shards = params.shards();
    ShardedLayer sharded = new ShardedLayer(layer, new HarvestShards(plan.store()), c);
    sharded.source().requireShards(layer, shards);
    int microRows = params.rowsPerShardStep(c.trainBatchSizeTokens()) / params.microBatchesPerSync();
    Configuration hadoop = conf.value().value();
    Device device = TaskDevice.resolve(params.device());
    JsonObject layout = new JsonObject();
    layout.addProperty("mode", "data-parallel");
    layout.addProperty("shards", shards);
    layout.addProperty("micro_batch_rows", microRows);
    layout.addProperty("shuffle_buffer_rows", params.shuffleBufferRows());
    layout.addProperty("max_epochs", params.maxEpochs());

    long[] positions = new long[shards];
    long resampleBatches = 0;
    long resumedAt = 0;
    TranscoderTrainer trainer;
    var resumed = checkpoints.resumeLatest(layer, c, device, hadoop, overwrite);
    if (resumed.isPresent()) {
      trainer = resumed.get().trainer();
      resumedAt = trainer.step();
      JsonObject saved = resumed.get().layout();
      requireSameLayout(saved, layout, layer, checkpoints);
      JsonArray p = saved.getAsJsonArray("positions");
      for (int i = 0; i < shards; i++) {
        positions[i] = p.get(i).getAsLong();
      }
      resampleBatches = saved.get("resample_batches").getAsLong();
      LOG.info("train layer {}: resuming data-parallel training from the checkpoint at step {}", layer, resumedAt);
    } else {
      trainer = TranscoderTrainer.create(c, device);
    }
    java.nio.file.Path local = LocalCheckpointFolders.create();
    try (TranscoderTrainer t = trainer) {
      long[] end = trainDataParallel(jsc, sharded, params, conf, t, positions, resampleBatches,
          (tt, pos, used) -> {
            if (stepsDone != null) {
              stepsDone.add(1);
            }
            if (tt.step() % params.checkpointEverySteps() == 0 || tt.isDone()) {
              java.nio.file.Path dir = local.resolve("step=" + tt.step());
              tt.saveCheckpoint(dir);
              JsonObject state = layout.deepCopy();
              JsonArray p = new JsonArray();
              for (long v : pos) {
                p.add(v);
              }
              state.add("positions", p);
              state.addProperty("resample_batches", used);
              checkpoints.publish(layer, tt.step(), dir, state, hadoop);
            }
            if (crashAfterStepForTests >= 0 && tt.step() >= crashAfterStepForTests && !tt.isDone()) {
              throw new IllegalStateException("layer " + layer + ": stopped at step " + tt.step() + " for a test");
            }
          });
      try (Transcoder tc = t.transcoder()) {
        TranscoderStore.save(tc, new Path(attemptDir, TranscoderStore.layerTable(layer)), hadoop);
      }
      long rows = 0;
      for (long p : end) {
        rows += p;
      }
      long all = sharded.source().rows();
      int epochs = (int) Math.max(1, (rows + all - 1) / Math.max(1, all));
      return new LayerOutcome(layer, t.log(), t.scaling(), t.tokensSeen(), resumedAt, epochs,
          (System.nanoTime() - t0) / 1e9);
    } finally {
      org.cellcircuits.io.HadoopFolders.deleteRecursively(local);
    }
  }

  /**
   * Data-parallel training of {@code t} from where it stands to its last step: the stage's loop, for any source
   * ({@code ml.TranscoderEstimator} calls it with a DataFrame's partitions). Per step one Spark job: each worker task
   * sums its shards' gradients ({@link ShardWorker}), the driver adds them with {@code treeReduce} and applies one
   * Adam update (resampling dead features from its own stream, seeded {@code seed ^ RESAMPLE_SEED_SALT}). The first
   * job estimates the activation scaling when {@code t} has none.
   *
   * @param positions rows each shard has handed out already (zeros for a fresh start)
   * @param resampleBatches batches the resampling stream has handed out already
   * @return rows each shard has handed out at the end
   */
  public static long[] trainDataParallel(JavaSparkContext jsc, ShardedLayer plan, TrainParams params,
      Broadcast<SerializableConfiguration> conf, TranscoderTrainer t, long[] positions, long resampleBatches,
      AfterStep afterStep) throws IOException {
    TranscoderConfig c = plan.config();
    int layer = plan.layer();
    plan.source().requireShards(layer, params.shards());
    int microRows = params.rowsPerShardStep(c.trainBatchSizeTokens()) / params.microBatchesPerSync();
    Configuration hadoop = conf.value().value();
    Device device = TaskDevice.resolve(params.device());
    @SuppressWarnings("unchecked")
    JavaRDD<Object> workers = (JavaRDD<Object>) plan.source().workerTasks(jsc, params.workers(), params.shards());
    if (workers.getNumPartitions() != params.workers()) {
      throw new IllegalStateException(String.format("layer %d: %s gave %d worker tasks for %d workers", layer,
          plan.source().key(), workers.getNumPartitions(), params.workers()));
    }
    String name = "layer " + layer;
    try (NDManager manager = NDManager.newBaseManager(device)) {
      if (t.scaling() == null) {
        jsc.setJobDescription(String.format(Locale.ROOT, "train %s: estimating activation scales", name));
        long[] start = positions.clone();
        ScalingSums sums = workers.mapPartitions((Iterator<Object> it) -> {
          int w = TaskContext.getPartitionId();
          return List.of(ShardWorker.scalingSums(plan, params, microRows, w, start, conf.value().value(), it))
              .iterator();
        }).treeReduce(ScalingSums::plus);
        double in = ActivationScaling.factor(sums.input(), sums.rows(), c.dIn(), "mlp_in (" + c.hookNameIn() + ")");
        double out = c.kind() == TranscoderKind.SAE ? in
            : ActivationScaling.factor(sums.target(), sums.rows(), c.dOut(), "target (" + c.hookNameOut() + ")");
        t.setScaling(new ActivationScaling(in, out, false));
        positions = sums.positions();
        LOG.info("train {}: scaling factors input {} target {} from {} rows", name, in, out, sums.rows());
      }
      ActivationScaling scaling = t.scaling();
      TrainingBatches resampleStream = c.resampleDeadFeatures()
          ? plan.source().resampleStream(c.trainBatchSizeTokens(), c.seed() ^ RESAMPLE_SEED_SALT, params, c.kind(),
              manager, hadoop)
          : null;
      try {
        for (long i = 0; i < resampleBatches; i++) {
          try (NDManager m = manager.newSubManager()) {
            resampleStream.next(m);
          }
        }
        TrainingProgress progress = new TrainingProgress(name, c.totalSteps(), Duration.ofSeconds(5).toNanos(),
            System::nanoTime, LOG::info, t.step(), t.tokensSeen());
        StepRecord last = null;
        long[] resampleUsed = {resampleBatches};
        while (!t.isDone()) {
          long step = t.step();
          jsc.setJobDescription(String.format(Locale.ROOT, "train %s: step %,d of %,d (data-parallel, %d workers)",
              name, step + 1, c.totalSteps(), params.workers()));
          Broadcast<StepInput> input =
              jsc.broadcast(new StepInput(step, t.flatWeights(), t.deadFeatures(), positions.clone()));
          StepContribution sum;
          try {
            sum = workers.mapPartitions((Iterator<Object> it) -> {
              int w = TaskContext.getPartitionId();
              return List.of(ShardWorker.gradients(plan, params, microRows, scaling, w, input.value(),
                  conf.value().value(), it)).iterator();
            }).treeReduce(StepContribution::plus);
          } finally {
            input.destroy();
          }
          positions = sum.positions();
          try (NDManager m = manager.newSubManager()) {
            last = t.applyAndResample(sum.gradients(), () -> {
              resampleUsed[0]++;
              TrainingBatch b = resampleStream.next(m);
              if (b == null) {
                throw new IllegalStateException("layer " + layer + ": no activations left to resample from");
              }
              return b;
            });
          }
          progress.maybeReport(last);
          afterStep.accept(t, positions, resampleUsed[0]);
        }
        if (last != null) {
          progress.finish(last);
        }
      } finally {
        if (resampleStream instanceof AutoCloseable a) {
          try {
            a.close();
          } catch (Exception e) {
            throw new IllegalStateException("closing the resampling stream: " + e.getMessage(), e);
          }
        }
      }
      return positions;
    }
  }
}
