package org.cellcircuits.transcoder;

import java.util.function.ObjLongConsumer;
import org.apache.spark.TaskContext;

/**
 * For tests outside this package: makes the train stage fail after a given step, before anything is committed
 * ({@link TrainJob#crashAfterStepForTests}), or runs an action in a layer-parallel task after each published
 * checkpoint ({@link TrainJob#afterCheckpointForTests}); restores both when closed.
 */
public final class TrainCrashHook implements AutoCloseable {
  private TrainCrashHook(long step, ObjLongConsumer<TaskContext> afterCheckpoint) {
    TrainJob.crashAfterStepForTests = step;
    TrainJob.afterCheckpointForTests = afterCheckpoint;
  }

  /** Every layer's training throws after {@code step} steps (after any checkpoint at that step) until closed. */
  public static TrainCrashHook crashAfterStep(long step) {
    return new TrainCrashHook(step, (tc, s) -> {});
  }

  /** {@code action(task, step)} after each checkpoint a layer-parallel task publishes, until closed. */
  public static TrainCrashHook afterCheckpoint(ObjLongConsumer<TaskContext> action) {
    return new TrainCrashHook(-1, action);
  }

  @Override
  public void close() {
    TrainJob.crashAfterStepForTests = -1;
    TrainJob.afterCheckpointForTests = (tc, s) -> {};
  }
}
