package org.cellcircuits.model;

/**
 * Settings of cell-type prediction.
 *
 * @param maxNewTokens most answer tokens greedy decoding generates (>= 1)
 * @param batchSize prompts per forward pass (>= 1)
 * @param stopAtPeriod stop at the first '.', since C2S answers are " {cell_type}."
 */
public record PredictOptions(int maxNewTokens, int batchSize, boolean stopAtPeriod) {

    public PredictOptions {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException(String.format("maxNewTokens is %d; must be >= 1", maxNewTokens));
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException(String.format("batchSize is %d; must be >= 1", batchSize));
        }
    }

    /** 16 new tokens (C2S cell-type names are 2 to 10 Pythia tokens), batches of 8, stop at '.'. */
    public static PredictOptions defaults() {
        return new PredictOptions(16, 8, true);
    }
}
