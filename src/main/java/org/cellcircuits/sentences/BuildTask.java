package org.cellcircuits.sentences;

import java.io.Serializable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One row range of the sentences output to build, with the generator state it starts from and must end at (both
 * null in gene-order mode). What the driver hands each build task, for the Dataset ({@link SentenceRows}) and for
 * the Parquet files ({@link SentenceFiles}) alike.
 *
 * @param partition the range's index, also the output partition and file number
 * @param start first atlas row
 * @param end atlas row after the last
 * @param startState c2s generator state at {@code start}
 * @param endState c2s generator state the range must end at, when known in advance
 */
record BuildTask(int partition, long start, long end, NumpyRandomState.State startState,
                 NumpyRandomState.State endState) implements Serializable {
  // Under the stage's logger, so a task's line sits with the driver's sentences lines.
  private static final Logger LOG = LoggerFactory.getLogger(SentencesJob.class);

  /** Logs the task's throughput once its range is built. */
  void logBuilt(long built, long startNanos) {
    double s = (System.nanoTime() - startNanos) / 1e9;
    LOG.info("sentences: partition {} rows [{}, {}): {} sentences in {} s ({} cells/s)", partition, start, end,
        built, String.format("%.2f", s), String.format("%.0f", (end - start) / Math.max(s, 1e-9)));
  }
}
