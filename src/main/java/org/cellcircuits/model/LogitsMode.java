package org.cellcircuits.model;

/** Which logits a forward pass computes; the unembedding is the most expensive matmul of a small model. */
public enum LogitsMode {
    /** (B, T, vocab) at every position. */
    ALL,
    /** (B, vocab) at each row's last real token: next-token prediction. */
    LAST,
    /** None: activations only (harvesting). */
    NONE
}
