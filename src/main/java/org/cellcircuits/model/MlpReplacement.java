package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;

/**
 * Stands in for one block's MLP: reads the MLP input (B, T, d_model) and returns what the block adds to the
 * residual stream (B, T, d_model). A transcoder, a zero ablation or a mean ablation are all one of these.
 * Arrays it creates should live in {@code mlpIn.getManager()} so they are freed with the batch.
 */
@FunctionalInterface
public interface MlpReplacement {
    NDArray apply(NDArray mlpIn);

    /** Zero ablation: the block adds nothing through its MLP. */
    static MlpReplacement zero() {
        return NDArray::zerosLike;
    }
}
