package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** dense_4h_to_h(gelu(dense_h_to_4h(x))) with exact (erf) GELU, as Pythia's hidden_act "gelu". */
final class Mlp {

    final NDArray inWeight; // (d_mlp, C)
    final NDArray inBias; // (d_mlp)
    final NDArray outWeight; // (C, d_mlp)
    final NDArray outBias; // (C)

    Mlp(NDArray inWeight, NDArray inBias, NDArray outWeight, NDArray outBias) {
        this.inWeight = inWeight;
        this.inBias = inBias;
        this.outWeight = outWeight;
        this.outBias = outBias;
    }

    /** x (B, T, C) -> (B, T, C). */
    NDArray forward(NDArray x) {
        NDArray h = Activation.gelu(Ops.linear(x, inWeight, inBias)); // (B, T, d_mlp)
        return Ops.linear(h, outWeight, outBias);
    }
}
