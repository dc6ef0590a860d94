package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDManager;

/**
 * Where the trainer gets its data, one batch per step, in a fixed order (the order is part of what makes a run
 * reproducible). Kept to two methods so that the harvest stage's ActivationStore, a Spark partition's rows or an
 * in-memory array can each be adapted in a few lines.
 */
public interface TrainingBatches {

    /** The next batch, its arrays created in {@code manager}; null when the data is used up. */
    TrainingBatch next(NDManager manager);

    /**
     * Rows handed out so far. The trainer records it in checkpoints; a resumed run skips batches until this count
     * reaches the recorded one, so the stream must yield the same batches again from the start.
     */
    long tokensSeen();
}
