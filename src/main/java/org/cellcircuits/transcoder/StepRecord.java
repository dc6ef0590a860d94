package org.cellcircuits.transcoder;

import java.io.Serializable;

/**
 * One row of the training log (train_log/ Parquet): the metrics of one step's batch, measured with the weights
 * before that step's update (as SAELens logs them), in scaled units.
 *
 * @param step              0-based step index
 * @param tokensSeen        training tokens including this step's
 * @param loss              mse + lambda l1
 * @param mse               mean over rows of ||t - y_hat||^2
 * @param l1                mean over rows of sum_i z_i ||W_dec,i||
 * @param l0                mean active features per token
 * @param deadFraction      share of features with no activation in the last dead-feature window, after this step
 * @param explainedVariance 1 - sum ||t - y_hat||^2 / sum ||t - mean t||^2 over the batch
 * @param lr                learning rate of this step
 * @param l1Coefficient     lambda of this step
 * @param resampled         features resampled after this step
 */
public record StepRecord(long step, long tokensSeen, double loss, double mse, double l1, double l0,
        double deadFraction, double explainedVariance, double lr, double l1Coefficient, int resampled)
        implements Serializable {

    private static final long serialVersionUID = 1L;

    StepRecord withResampled(int n) {
        return new StepRecord(step, tokensSeen, loss, mse, l1, l0, deadFraction, explainedVariance, lr,
                l1Coefficient, n);
    }
}
