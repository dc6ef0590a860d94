package org.cellcircuits.transcoder;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Sums over the tokens of one batch (or of several batches combined), from which the logged metrics follow. All in
 * the trainer's scaled units (targets times s_out), as SAELens logs them; explained variance does not depend on
 * the scale.
 *
 * @param tokens     rows
 * @param sse        sum over rows of ||t - y_hat||^2
 * @param l1Sum      sum over rows of sum_i z_i ||W_dec,i|| (the penalty before lambda)
 * @param l0Sum      sum over rows of the number of active (z &gt; 0) features
 * @param penaltySum sum over rows of the sparsity penalty before its coefficient: l1Sum for relu, the L0 count for
 *                   jumprelu, 0 for topk and batchtopk
 * @param auxSum     sum over rows of the auxiliary loss, coefficient included (AuxK for topk and batchtopk, else 0)
 * @param thresholdSum   batchtopk: sum over the batches combined here of each one's smallest surviving activation
 * @param thresholdCount batchtopk: how many batches that sum holds (0 for other activations)
 * @param targetMean per-dimension mean of the target (d_out)
 * @param targetM2   sum over rows of ||t - targetMean||^2
 */
public record BatchStats(long tokens, double sse, double l1Sum, double l0Sum, double penaltySum, double auxSum,
        double thresholdSum, long thresholdCount, double[] targetMean, double targetM2) implements Serializable {

    private static final long serialVersionUID = 1L;

    public BatchStats {
        if (tokens < 1) {
            throw new IllegalArgumentException("batch statistics need at least one token, got " + tokens);
        }
        targetMean = targetMean.clone();
    }

    /**
     * Statistics of the union of two disjoint sets of rows. Means and centred sums combine by Chan et al.'s
     * pairwise formula, so the explained variance of a data-parallel step equals the single-worker one up to
     * rounding, without a second pass over the data.
     */
    public BatchStats plus(BatchStats o) {
        if (o.targetMean.length != targetMean.length) {
            throw new IllegalArgumentException(String.format(
                    "cannot combine statistics of targets of width %d and %d", targetMean.length, o.targetMean.length));
        }
        long n = tokens + o.tokens;
        double[] mean = new double[targetMean.length];
        double deltaSq = 0;
        for (int j = 0; j < mean.length; j++) {
            double delta = o.targetMean[j] - targetMean[j];
            mean[j] = targetMean[j] + delta * o.tokens / n;
            deltaSq += delta * delta;
        }
        double m2 = targetM2 + o.targetM2 + deltaSq * ((double) tokens * o.tokens / n);
        return new BatchStats(n, sse + o.sse, l1Sum + o.l1Sum, l0Sum + o.l0Sum, penaltySum + o.penaltySum,
                auxSum + o.auxSum, thresholdSum + o.thresholdSum, thresholdCount + o.thresholdCount, mean, m2);
    }

    @Override
    public double[] targetMean() {
        return targetMean.clone();
    }

    /** Mean over rows of ||t - y_hat||^2 (SAELens's mse_loss: summed over dimensions, averaged over rows). */
    public double mse() {
        return sse / tokens;
    }

    /** Mean over rows of sum_i z_i ||W_dec,i||. */
    public double l1() {
        return l1Sum / tokens;
    }

    /** Mean number of active features per token. */
    public double l0() {
        return l0Sum / tokens;
    }

    /** mse + coefficient x penalty + auxiliary loss, per token: the loss that was minimised. */
    public double loss(double sparsityCoefficient) {
        return mse() + sparsityCoefficient * penaltySum / tokens + auxSum / tokens;
    }

    /** batchtopk: the mean of the batches' smallest surviving activations, or NaN when none was recorded. */
    public double thresholdObservation() {
        return thresholdCount > 0 ? thresholdSum / thresholdCount : Double.NaN;
    }

    /** 1 - sum ||t - y_hat||^2 / sum ||t - mean t||^2; NaN when the target does not vary. */
    public double explainedVariance() {
        return targetM2 > 0 ? 1.0 - sse / targetM2 : Double.NaN;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchStats b && tokens == b.tokens && sse == b.sse && l1Sum == b.l1Sum
                && l0Sum == b.l0Sum && penaltySum == b.penaltySum && auxSum == b.auxSum
                && thresholdSum == b.thresholdSum && thresholdCount == b.thresholdCount && targetM2 == b.targetM2
                && Arrays.equals(targetMean, b.targetMean);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(tokens) * 31 + Double.hashCode(sse);
    }

    @Override
    public String toString() {
        return String.format("BatchStats[tokens=%d, mse=%g, l1=%g, l0=%g, ev=%g]", tokens, mse(), l1(), l0(),
                explainedVariance());
    }
}
