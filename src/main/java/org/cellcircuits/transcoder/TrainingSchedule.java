package org.cellcircuits.transcoder;

/**
 * Learning rate and sparsity coefficient as functions of the step index (0-based: step s is the (s+1)-th update).
 *
 * <ul>
 *   <li>lr warm-up: {@code lr * (s+1) / W} for s &lt; W. This is what SAELens's warm-up (torch {@code LinearLR} from
 *       1/W to 1 over W-1 iterations, {@code sae_lens/training/optim.py}) gives, so step 0 already moves.</li>
 *   <li>then {@code lr} until the last D steps, where it goes to {@code lr-end} along a line or a half cosine,
 *       reaching {@code lr-end} exactly at the last step.</li>
 *   <li>sparsity warm-up (L1 lambda for relu, L0 coefficient for jumprelu): {@code lambda * (s+1) / W1} for
 *       s &lt; W1, as SAELens's {@code CoefficientScheduler}.</li>
 * </ul>
 */
public final class TrainingSchedule {

    private TrainingSchedule() {}

    public static double learningRate(TranscoderConfig c, long step) {
        checkStep(c, step);
        if (step < c.lrWarmUpSteps()) {
            return c.lr() * (step + 1) / c.lrWarmUpSteps();
        }
        long decayStart = (long) c.totalSteps() - c.lrDecaySteps();
        if (c.lrDecaySteps() > 0 && step >= decayStart) {
            double progress = (double) (step - decayStart + 1) / c.lrDecaySteps(); // (0, 1]
            return switch (c.lrDecay()) {
                case LINEAR -> c.lr() + (c.lrEnd() - c.lr()) * progress;
                case COSINE -> c.lrEnd() + (c.lr() - c.lrEnd()) * 0.5 * (1 + Math.cos(Math.PI * progress));
            };
        }
        return c.lr();
    }

    /** The sparsity coefficient of a step: {@link TranscoderConfig#sparsityCoefficient()} after its warm-up. */
    public static double sparsityCoefficient(TranscoderConfig c, long step) {
        checkStep(c, step);
        if (step < c.l1WarmUpSteps()) {
            return c.sparsityCoefficient() * (step + 1) / c.l1WarmUpSteps();
        }
        return c.sparsityCoefficient();
    }

    private static void checkStep(TranscoderConfig c, long step) {
        if (step < 0 || step >= c.totalSteps()) {
            throw new IllegalArgumentException(String.format(
                    "step %d is outside the run's %d steps (0-based)", step, c.totalSteps()));
        }
    }
}
