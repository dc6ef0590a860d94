package org.cellcircuits.transcoder;

/**
 * For tests outside this package: makes the train stage fail after a given step, before anything is committed
 * ({@link TrainJob#crashAfterStepForTests}), and restores it.
 */
public final class TrainCrashHook implements AutoCloseable {
  private TrainCrashHook(long step) {
    TrainJob.crashAfterStepForTests = step;
  }

  /** Every layer's training throws after {@code step} steps (after any checkpoint at that step) until closed. */
  public static TrainCrashHook crashAfterStep(long step) {
    return new TrainCrashHook(step);
  }

  @Override
  public void close() {
    TrainJob.crashAfterStepForTests = -1;
  }
}
