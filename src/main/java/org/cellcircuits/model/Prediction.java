package org.cellcircuits.model;

/**
 * The model's greedy answer to one prompt.
 *
 * @param answer the generated text up to the stop (newline, '.', end-of-text), trimmed: the predicted cell type
 * @param tokenIds every generated token, including the one that stopped decoding
 * @param logProb sum of the log-probabilities of {@code tokenIds}
 * @param stopped true if decoding ended at a stop, false if it ran out of {@code maxNewTokens}
 */
public record Prediction(String answer, long[] tokenIds, double logProb, boolean stopped) {

    public Prediction {
        tokenIds = tokenIds.clone();
    }

    @Override
    public long[] tokenIds() {
        return tokenIds.clone();
    }
}
