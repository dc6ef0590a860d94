package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDArray;

/**
 * The active set of the two activations that select by rank ({@link Activation#TOPK} per token,
 * {@link Activation#BATCHTOPK} over a batch) and the activations it keeps. The training loss and a saved TopK
 * transcoder's encoder both call it, so what a trained transcoder computes is what its training computed, down to
 * the sign of a zero.
 *
 * <p>The set is a 0/1 array in the pre-activations' float type (counting and masking in floats is several times faster
 * than with a boolean array in libtorch, and column sums of 0/1 are exact in float32 up to 2^24 rows): the positive
 * pre-activations at least as large as the k-th largest, so ties with it all survive and, with fewer than k positive,
 * no zero does. The activations are {@code pre * active}, as JumpReLU's are: an inactive feature with a negative
 * pre-activation holds -0.0 (the loss's choice, which every trained fixture was made with).
 */
record RankSelection(NDArray z, NDArray active) {

    /** The k largest positive entries along the last axis of pre-activations (..., d_sae) (TopK). */
    static RankSelection perToken(NDArray pre, int k) {
        int last = pre.getShape().dimension() - 1;
        NDArray positive = pre.maximum(0f);
        int kept = Math.toIntExact(Math.min(k, pre.getShape().get(last)));
        NDArray kth = positive.topK(kept, last, true, false).get(0).min(new int[] {last}, true); // (..., 1)
        return keep(pre, positive, kth);
    }

    /** The k x B largest positive entries of pre-activations (B, d_sae) over the whole batch (BatchTopK's training). */
    static RankSelection perBatch(NDArray pre, int k) {
        NDArray positive = pre.maximum(0f);
        long all = positive.getShape().size();
        int kept = Math.toIntExact(Math.min((long) k * pre.getShape().get(0), all));
        NDArray kth = positive.reshape(-1).topK(kept, 0, true, false).get(0).min(); // scalar
        return keep(pre, positive, kth);
    }

    private static RankSelection keep(NDArray pre, NDArray positive, NDArray kth) {
        // sign(): a 0 that ties a k-th largest of 0 is not active
        NDArray active = positive.gte(kth).toType(pre.getDataType(), false).muli(positive.sign());
        return new RankSelection(pre.mul(active), active);
    }
}
