package org.cellcircuits.harvest;

import java.util.function.Consumer;
import org.apache.spark.TaskContext;

/**
 * For tests outside this package: runs an action in each harvest task after its files are written and before it
 * returns ({@link HarvestJob#afterPartitionForTests}), and restores the no-op when closed.
 */
public final class HarvestTaskHook implements AutoCloseable {
  private HarvestTaskHook(Consumer<TaskContext> action) {
    HarvestJob.afterPartitionForTests = action;
  }

  /** {@code action(task)} after each task's files are written, until closed. */
  public static HarvestTaskHook afterPartition(Consumer<TaskContext> action) {
    return new HarvestTaskHook(action);
  }

  @Override
  public void close() {
    HarvestJob.afterPartitionForTests = tc -> {};
  }
}
