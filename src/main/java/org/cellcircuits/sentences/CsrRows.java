package org.cellcircuits.sentences;

/**
 * A whole cells-by-genes matrix held in memory in CSR form, for formats that cannot be read by row range
 * (10x Matrix Market is gene-major, a Parquet long table is unordered, an h5ad CSC matrix is column-major).
 *
 * @param nGenes  number of columns
 * @param indptr  length rows+1, non-decreasing, starting at 0
 * @param indices gene column of each stored entry
 * @param values  count of each stored entry
 */
record CsrRows(int nGenes, long[] indptr, int[] indices, double[] values) {

  int rows() {
    return indptr.length - 1;
  }

  int[] storedPerRow(int start, int end) {
    int[] out = new int[end - start];
    for (int r = start; r < end; r++) {
      out[r - start] = (int) (indptr[r + 1] - indptr[r]);
    }
    return out;
  }

  /** Rows [start, end) with the offsets rebased to 0. */
  Block slice(int start, int end) {
    long base = indptr[start];
    int n = Math.toIntExact(indptr[end] - base);
    int[] ptr = new int[end - start + 1];
    for (int r = start; r <= end; r++) {
      ptr[r - start] = (int) (indptr[r] - base);
    }
    int[] idx = new int[n];
    double[] val = new double[n];
    System.arraycopy(indices, (int) base, idx, 0, n);
    System.arraycopy(values, (int) base, val, 0, n);
    return new Block(ptr, idx, val);
  }

  /** CSR arrays of a block of rows, offsets starting at 0. */
  record Block(int[] indptr, int[] indices, double[] values) {
  }

  /**
   * Converts a CSC matrix to CSR the way scipy's {@code csr_matrix(csc)} does: each row's entries come out in
   * ascending column order (columns are visited in order) and explicitly stored zeros are kept.
   */
  static CsrRows fromCsc(int nRows, int nCols, long[] colPtr, int[] rowIdx, double[] vals) {
    long[] ptr = new long[nRows + 1];
    for (int r : rowIdx) {
      ptr[r + 1]++;
    }
    for (int r = 0; r < nRows; r++) {
      ptr[r + 1] += ptr[r];
    }
    long[] next = ptr.clone();
    int[] idx = new int[rowIdx.length];
    double[] val = new double[rowIdx.length];
    for (int c = 0; c < nCols; c++) {
      for (long k = colPtr[c]; k < colPtr[c + 1]; k++) {
        int at = (int) next[rowIdx[(int) k]]++;
        idx[at] = c;
        val[at] = vals[(int) k];
      }
    }
    return new CsrRows(nCols, ptr, idx, val);
  }
}
