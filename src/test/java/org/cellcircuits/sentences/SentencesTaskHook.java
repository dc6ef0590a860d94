package org.cellcircuits.sentences;

import java.util.function.ObjIntConsumer;
import org.apache.spark.TaskContext;

/**
 * For tests outside this package: runs an action in each sentences task after a range's file is complete and before
 * the task reports it ({@link SentencesJob#afterRangeFileForTests}), and restores the no-op when closed.
 */
public final class SentencesTaskHook implements AutoCloseable {
  private SentencesTaskHook(ObjIntConsumer<TaskContext> action) {
    SentencesJob.afterRangeFileForTests = action;
  }

  /** {@code action(task, range)} after each range's file is written, until closed. */
  public static SentencesTaskHook afterRangeFile(ObjIntConsumer<TaskContext> action) {
    return new SentencesTaskHook(action);
  }

  @Override
  public void close() {
    SentencesJob.afterRangeFileForTests = (tc, range) -> {};
  }
}
