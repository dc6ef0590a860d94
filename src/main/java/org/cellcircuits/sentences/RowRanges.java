package org.cellcircuits.sentences;

import java.io.Serializable;

/**
 * The atlas's cells cut into consecutive row ranges [start, end) of {@code rowsPerPartition} cells (the last one
 * shorter): one Spark task and one output partition each.
 *
 * @param nRows            cells in the atlas (>= 0)
 * @param rowsPerPartition cells per range (>= 1)
 */
public record RowRanges(long nRows, int rowsPerPartition) implements Serializable {
  public RowRanges {
    if (nRows < 0) {
      throw new IllegalArgumentException(String.format("nRows is invalid: %d", nRows));
    }
    if (rowsPerPartition < 1) {
      throw new IllegalArgumentException(String.format("rowsPerPartition is invalid: %d; need >= 1",
          rowsPerPartition));
    }
    long count = (nRows + rowsPerPartition - 1) / rowsPerPartition;
    if (count > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(String.format("%d cells in ranges of %d make %d partitions; raise "
          + "sentences.rows-per-partition", nRows, rowsPerPartition, count));
    }
  }

  public int count() {
    return (int) ((nRows + rowsPerPartition - 1) / rowsPerPartition);
  }

  public long start(int partition) {
    return (long) partition * rowsPerPartition;
  }

  public long end(int partition) {
    return Math.min(nRows, start(partition) + rowsPerPartition);
  }
}
