package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.SparseFormat;

/** The fused PyTorch kernels the modules use; results land in the first argument's manager. */
final class Ops {

    private Ops() {}

    /** x W^T + b (b may be null), one torch.linear call. */
    static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    }

    /** Rows of {@code table} picked by integer {@code index}: output shape index.shape + (table.cols). */
    static NDArray rows(NDArray index, NDArray table) {
        return index.getNDArrayInternal().embedding(index, table, SparseFormat.DENSE).singletonOrThrow();
    }
}
