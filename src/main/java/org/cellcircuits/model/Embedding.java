package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;

/** Token embedding {@code gpt_neox.embed_in.weight} (vocab, d_model). */
final class Embedding {

    final NDArray weight;

    Embedding(NDArray weight) {
        this.weight = weight;
    }

    /** ids (B, T) int64 -> (B, T, C). */
    NDArray forward(NDArray ids) {
        return Ops.rows(ids, weight);
    }
}
