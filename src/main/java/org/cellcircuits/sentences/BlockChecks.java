package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.List;

/** Checks shared by every reader on what it hands out: offsets, gene columns and counts. */
final class BlockChecks {
  private BlockChecks() {
  }

  /**
   * Offsets of rows [firstRow, firstRow + ptr.length - 1), as stored in the file (not yet rebased): non-decreasing
   * and inside [0, nnz].
   */
  static void checkOffsets(String file, String field, long firstRow, long[] ptr, long nnz) throws AtlasFormatException {
    for (int i = 0; i < ptr.length; i++) {
      if (ptr[i] < 0 || ptr[i] > nnz) {
        throw AtlasFormatException.of(file, field, String.format("%s[%d] = %d", field, firstRow + i, ptr[i]),
            String.format("an offset in [0, %d] (the number of stored entries)", nnz));
      }
      if (i > 0 && ptr[i] < ptr[i - 1]) {
        throw AtlasFormatException.of(file, field,
            String.format("%s[%d] = %d is less than %s[%d] = %d, so row %d would end before it starts", field,
                firstRow + i, ptr[i], field, firstRow + i - 1, ptr[i - 1], firstRow + i - 1),
            "non-decreasing offsets");
      }
    }
  }

  /** Every gene column inside [0, nGenes) and every count finite and >= 0, naming cell and gene otherwise. */
  static void checkEntries(String file, String matrixField, long firstRow, String[] cellIds, int[] indptr,
                           int[] indices, double[] values, List<String> genes) throws AtlasFormatException {
    if (plausible(indices, values, indptr[cellIds.length], genes.size())) {
      return;
    }
    reportBadEntry(file, matrixField, firstRow, cellIds, indptr, indices, values, genes);
  }

  /**
   * True when entries [0, n) surely pass: columns in [0, nGenes), counts with a clear sign bit and below
   * infinity. Written as flat loops that OR sign bits, with no branch and no per-row bookkeeping, so they run at
   * memory speed: the row-by-row check cost ~5% of the sentences stage (JFR). False also for -0.0, which is a
   * valid count: the caller then checks row by row.
   */
  static boolean plausible(int[] indices, double[] values, int n, int nGenes) {
    int badColumn = 0;
    for (int k = 0; k < n; k++) {
      int c = indices[k];
      badColumn |= c | (nGenes - 1 - c); // negative exactly when c < 0 or c >= nGenes
    }
    long badCount = 0;
    for (int k = 0; k < n; k++) {
      long bits = Double.doubleToRawLongBits(values[k]);
      badCount |= bits | (0x7fefffffffffffffL - bits); // negative when the sign is set, or inf, or NaN
    }
    return badColumn >= 0 && badCount >= 0;
  }

  private static void reportBadEntry(String file, String matrixField, long firstRow, String[] cellIds, int[] indptr,
                                     int[] indices, double[] values, List<String> genes)
      throws AtlasFormatException {
    int nGenes = genes.size();
    for (int r = 0; r < cellIds.length; r++) {
      for (int k = indptr[r]; k < indptr[r + 1]; k++) {
        int c = indices[k];
        if (c < 0 || c >= nGenes) {
          throw AtlasFormatException.of(file, matrixField + " indices",
              String.format("cell %s (row %d) stores gene column %d", cellIds[r], firstRow + r, c),
              String.format("a column in [0, %d)", nGenes));
        }
        double v = values[k];
        if (!(v >= 0) || Double.isInfinite(v)) {
          throw AtlasFormatException.of(file, matrixField + " data",
              String.format("cell %s (row %d), gene %s (column %d) has count %s", cellIds[r], firstRow + r,
                  genes.get(c), c, v),
              "a finite count >= 0");
        }
      }
    }
  }

  static void checkRange(String file, long start, long end, long nCells) {
    if (start < 0 || end > nCells || start > end) {
      throw new IllegalArgumentException(String.format(
          "atlas %s: rows [%d, %d) are invalid; expected 0 <= start <= end <= %d cells", file, start, end, nCells));
    }
  }

  /** Reads rows [start, end) and checks the block's shape against the rows asked for. */
  static CellBlock readChecked(AtlasReader reader, String atlas, long start, long end) throws IOException {
    CellBlock block = reader.read(start, end);
    long rows = end - start;
    if (block.firstRow() != start || block.rows() != rows || block.indptr().length != rows + 1
        || block.indptr()[0] != 0 || block.indptr()[(int) rows] > block.indices().length
        || block.indices().length != block.values().length) {
      throw new IllegalStateException(String.format("atlas %s: the reader returned a malformed block for rows "
          + "[%d, %d): firstRow %d, %d cell ids, indptr of %d, %d indices, %d values", atlas, start, end,
          block.firstRow(), block.rows(), block.indptr().length, block.indices().length, block.values().length));
    }
    return block;
  }
}
