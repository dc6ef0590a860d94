package org.cellcircuits.harvest;

import ai.djl.ndarray.NDArray;
import java.util.List;
import org.apache.hadoop.fs.Path;

/**
 * One training batch of a harvested layer: MLP inputs and the MLP's outputs for the same tokens, row i of each
 * belonging together.
 *
 * @param mlpIn fp32 {@code [rows, d_model]}: {@code blocks.L.ln2.hook_normalized}
 * @param mlpOut fp32 {@code [rows, d_model]}: {@code blocks.L.hook_mlp_out}
 * @param origins the file and row each batch row was read from, for error messages
 */
public record ActivationBatch(NDArray mlpIn, NDArray mlpOut, Origins origins) implements AutoCloseable {
  /** Rows in the batch. */
  public int rows() {
    return (int) mlpIn.getShape().get(0);
  }

  @Override
  public void close() {
    mlpIn.close();
    mlpOut.close();
  }

  /**
   * Where each row of a batch came from: a file of the layer and the row's index in it. Kept as packed longs
   * (file index << 40 | row) so a batch of thousands of rows carries no objects per row.
   */
  public record Origins(List<Path> files, long[] packed) {
    /** The Parquet file row {@code i} was read from. */
    public Path file(int i) {
      return files.get((int) (packed[i] >>> 40));
    }

    /** Row {@code i}'s index (0-based) within its file. */
    public long rowInFile(int i) {
      return packed[i] & ((1L << 40) - 1);
    }

    /** e.g. {@code row 1234 of .../layer=3/part-00002-a7.parquet}. */
    public String describe(int i) {
      return String.format("row %d of %s", rowInFile(i), file(i));
    }
  }
}
