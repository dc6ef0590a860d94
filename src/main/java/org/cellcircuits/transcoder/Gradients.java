package org.cellcircuits.transcoder;

import java.io.Serializable;
import java.util.Arrays;

/**
 * What one worker sends after computing on its rows for one step: the gradient of the loss summed over those rows,
 * how often each feature fired there, and the batch statistics. Summed rather than averaged so that combining
 * partitions is plain addition ({@link #plus}, the combiner of a Spark {@code treeAggregate}); the trainer divides by
 * the total token count when it applies the update, which then equals the single-worker update on the union of the
 * rows up to the order of float additions.
 *
 * <p>{@code values} is flat, in {@link Transcoder#PARAMETER_NAMES} order, each row-major: W_enc [d_in, d_sae], b_enc
 * [d_sae], W_dec [d_sae, d_out], b_dec [d_out]. The arrays are shared, not copied (they can be tens of MB): treat
 * them as read-only; {@link #plus} makes new ones.
 *
 * @param step          the step index whose weights produced these gradients; applying them at another step fails
 * @param l1Coefficient lambda used in the penalty (the schedule's value at {@code step})
 * @param values        d(sum over rows of loss)/d(parameters)
 * @param featureFires  rows on which each feature was active (d_sae)
 * @param stats         sums of the batch's metrics
 */
public record Gradients(long step, double l1Coefficient, float[] values, long[] featureFires, BatchStats stats)
        implements Serializable {

    private static final long serialVersionUID = 1L;

    public Gradients {
        if (step < 0) {
            throw new IllegalArgumentException("gradient step must be >= 0, got " + step);
        }
        if (values == null || featureFires == null || stats == null) {
            throw new IllegalArgumentException("gradients need values, feature fire counts and statistics");
        }
    }

    /** Rows these gradients were computed on. */
    public long tokens() {
        return stats.tokens();
    }

    /** Gradients of the union of two disjoint sets of rows at the same step (element-wise sums). */
    public Gradients plus(Gradients o) {
        if (o.step != step || o.l1Coefficient != l1Coefficient) {
            throw new IllegalArgumentException(String.format(
                    "cannot add gradients of step %d (lambda %g) to gradients of step %d (lambda %g)",
                    o.step, o.l1Coefficient, step, l1Coefficient));
        }
        if (o.values.length != values.length || o.featureFires.length != featureFires.length) {
            throw new IllegalArgumentException(String.format(
                    "cannot add gradients of %d values / %d features to gradients of %d values / %d features",
                    o.values.length, o.featureFires.length, values.length, featureFires.length));
        }
        float[] sum = values.clone();
        for (int i = 0; i < sum.length; i++) {
            sum[i] += o.values[i];
        }
        long[] fires = featureFires.clone();
        for (int i = 0; i < fires.length; i++) {
            fires[i] += o.featureFires[i];
        }
        return new Gradients(step, l1Coefficient, sum, fires, stats.plus(o.stats));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Gradients g && step == g.step && l1Coefficient == g.l1Coefficient
                && Arrays.equals(values, g.values) && Arrays.equals(featureFires, g.featureFires)
                && stats.equals(g.stats);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(step) * 31 + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return String.format("Gradients[step=%d, %d values, %s]", step, values.length, stats);
    }
}
