package org.cellcircuits.transcoder;

/**
 * Counts, per feature, the training tokens since it last fired (z &gt; 0 on at least one row of a batch). A feature
 * is dead when that count reaches the window. Counted in tokens, not steps, so the window means the same whatever
 * the batch size; updated once per step from the step's fire counts, so a data-parallel step (fire counts summed
 * over partitions) counts exactly as a single-worker step on the same rows.
 */
final class DeadFeatures {

    private final long window;
    private final long[] tokensSinceFired;

    DeadFeatures(int features, long window) {
        this.window = window;
        this.tokensSinceFired = new long[features];
    }

    /** Records one step: {@code fires[i]} rows on which feature i fired, out of {@code tokens}. */
    void record(long[] fires, long tokens) {
        if (fires.length != tokensSinceFired.length) {
            throw new IllegalArgumentException(String.format(
                    "fire counts for %d features; the transcoder has %d", fires.length, tokensSinceFired.length));
        }
        for (int i = 0; i < fires.length; i++) {
            tokensSinceFired[i] = fires[i] > 0 ? 0 : tokensSinceFired[i] + tokens;
        }
    }

    boolean isDead(int feature) {
        return tokensSinceFired[feature] >= window;
    }

    /** Indices of dead features, ascending. */
    int[] dead() {
        return java.util.stream.IntStream.range(0, tokensSinceFired.length).filter(this::isDead).toArray();
    }

    double deadFraction() {
        return (double) dead().length / tokensSinceFired.length;
    }

    /** A resampled feature gets a fresh window. */
    void revive(int[] features) {
        for (int i : features) {
            tokensSinceFired[i] = 0;
        }
    }

    long[] state() {
        return tokensSinceFired.clone();
    }

    void restore(long[] state) {
        if (state.length != tokensSinceFired.length) {
            throw new IllegalArgumentException(String.format(
                    "dead-feature counters for %d features; the transcoder has %d", state.length, tokensSinceFired.length));
        }
        System.arraycopy(state, 0, tokensSinceFired, 0, state.length);
    }
}
