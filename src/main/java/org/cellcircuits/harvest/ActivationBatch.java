package org.cellcircuits.harvest;

import ai.djl.ndarray.NDArray;

/**
 * One training batch of a harvested layer: MLP inputs and the MLP's outputs for the same tokens, row i of each
 * belonging together.
 *
 * @param mlpIn fp32 {@code [rows, d_model]}: {@code blocks.L.ln2.hook_normalized}
 * @param mlpOut fp32 {@code [rows, d_model]}: {@code blocks.L.hook_mlp_out}
 */
public record ActivationBatch(NDArray mlpIn, NDArray mlpOut) implements AutoCloseable {
  /** Rows in the batch. */
  public int rows() {
    return (int) mlpIn.getShape().get(0);
  }

  @Override
  public void close() {
    mlpIn.close();
    mlpOut.close();
  }
}
