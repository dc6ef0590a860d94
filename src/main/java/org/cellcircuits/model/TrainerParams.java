package org.cellcircuits.model;

import org.cellcircuits.io.ConfigChecks;

/**
 * Hyperparameters of {@link AnswerTrainer}. Each is checked when the record is built; the error names the parameter
 * and the value. Start from {@link #defaults()} or {@link #builder()}, and change what you need.
 *
 * @param steps optimizer steps (>= 1); default 1500. Training cycles through the examples as often as needed.
 * @param batchSize examples per step (>= 1); default 16
 * @param learningRate peak AdamW learning rate, reached at the end of warm-up (in (0, 1]); default 1e-3
 * @param warmupSteps steps of linear warm-up from learningRate / warmupSteps to learningRate (0 to steps);
 *     default 100
 * @param minLearningRateRatio where the cosine decay ends, as a share of learningRate (in [0, 1]); default 0.1
 * @param weightDecay decoupled AdamW weight decay, applied to matrices (embeddings, projections) only, never to
 *     biases or LayerNorm parameters (>= 0); default 0.01
 * @param beta1 AdamW first-moment decay (in [0, 1)); default 0.9
 * @param beta2 AdamW second-moment decay (in [0, 1)); default 0.95
 * @param adamEpsilon AdamW denominator floor (> 0); default 1e-8
 * @param maxGradNorm gradients are rescaled so their global L2 norm is at most this (> 0), or 0 for no clipping;
 *     default 1.0
 * @param bucketBatches how many batches' worth of shuffled examples are sorted by length together before being cut
 *     into batches, so a batch pads little (>= 1; 1 = no bucketing); default 16
 * @param appendEos train the end-of-text token after the answer, as cell2sentence does
 *     ({@code tokenize_loss_on_response}), so greedy decoding stops even without a '.' rule; default true. Needs
 *     {@code eos_token_id} in the model config.
 * @param heldOutFraction share of each label's examples held out for evaluation, chosen by seed (in [0, 0.5]);
 *     default 0.1
 * @param seed seed of the held-out split and of the shuffling; default 42
 * @param logEvery steps between progress lines (>= 1); default 25
 * @param evalEvery steps between held-out evaluations during training (>= 0; 0 = only at the end); default 0
 * @param evalBatchSize prompts per forward pass when evaluating (>= 1); default 32
 */
public record TrainerParams(
        int steps,
        int batchSize,
        double learningRate,
        int warmupSteps,
        double minLearningRateRatio,
        double weightDecay,
        double beta1,
        double beta2,
        double adamEpsilon,
        double maxGradNorm,
        int bucketBatches,
        boolean appendEos,
        double heldOutFraction,
        long seed,
        int logEvery,
        int evalEvery,
        int evalBatchSize) {

    public TrainerParams {
        atLeast("steps", steps, 1);
        atLeast("batchSize", batchSize, 1);
        if (!(learningRate > 0 && learningRate <= 1)) {
            throw bad("learningRate", learningRate, "in (0, 1]");
        }
        if (warmupSteps < 0 || warmupSteps > steps) {
            throw bad("warmupSteps", warmupSteps, "in [0, steps = " + steps + "]");
        }
        if (!(minLearningRateRatio >= 0 && minLearningRateRatio <= 1)) {
            throw bad("minLearningRateRatio", minLearningRateRatio, "in [0, 1]");
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw bad("weightDecay", weightDecay, ">= 0");
        }
        if (!(beta1 >= 0 && beta1 < 1)) {
            throw bad("beta1", beta1, "in [0, 1)");
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw bad("beta2", beta2, "in [0, 1)");
        }
        if (!(adamEpsilon > 0) || Double.isInfinite(adamEpsilon)) {
            throw bad("adamEpsilon", adamEpsilon, "> 0");
        }
        if (!(maxGradNorm >= 0) || Double.isInfinite(maxGradNorm)) {
            throw bad("maxGradNorm", maxGradNorm, ">= 0 (0 = no clipping)");
        }
        atLeast("bucketBatches", bucketBatches, 1);
        if (!(heldOutFraction >= 0 && heldOutFraction <= 0.5)) {
            throw bad("heldOutFraction", heldOutFraction, "in [0, 0.5]");
        }
        atLeast("logEvery", logEvery, 1);
        atLeast("evalEvery", evalEvery, 0);
        atLeast("evalBatchSize", evalBatchSize, 1);
    }

    private static void atLeast(String name, long value, long min) {
        ConfigChecks.atLeast("trainer parameter " + name, value, min);
    }

    private static IllegalArgumentException bad(String name, Object value, String expected) {
        return ConfigChecks.invalid("trainer parameter " + name, value, expected);
    }

    /** Every parameter at its default. */
    public static TrainerParams defaults() {
        return builder().build();
    }

    /**
     * Learning rate of step {@code step} (0-based): linear warm-up to {@link #learningRate} over
     * {@link #warmupSteps}, then cosine decay to {@code learningRate * minLearningRateRatio} at the last step.
     */
    public double learningRateAt(int step) {
        if (step < 0 || step >= steps) {
            throw new IllegalArgumentException(String.format("step %d is outside the schedule [0, %d)", step, steps));
        }
        if (step < warmupSteps) {
            return learningRate * (step + 1) / warmupSteps;
        }
        int decaySteps = steps - warmupSteps;
        double progress = decaySteps <= 1 ? 1.0 : (double) (step - warmupSteps) / (decaySteps - 1);
        double min = learningRate * minLearningRateRatio;
        return min + 0.5 * (learningRate - min) * (1 + Math.cos(Math.PI * progress));
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.steps = steps;
        b.batchSize = batchSize;
        b.learningRate = learningRate;
        b.warmupSteps = warmupSteps;
        b.minLearningRateRatio = minLearningRateRatio;
        b.weightDecay = weightDecay;
        b.beta1 = beta1;
        b.beta2 = beta2;
        b.adamEpsilon = adamEpsilon;
        b.maxGradNorm = maxGradNorm;
        b.bucketBatches = bucketBatches;
        b.appendEos = appendEos;
        b.heldOutFraction = heldOutFraction;
        b.seed = seed;
        b.logEvery = logEvery;
        b.evalEvery = evalEvery;
        b.evalBatchSize = evalBatchSize;
        return b;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Settings one at a time, starting from the defaults; {@link #build()} validates them. */
    public static final class Builder {
        private int steps = 1500;
        private int batchSize = 16;
        private double learningRate = 1e-3;
        private int warmupSteps = 100;
        private double minLearningRateRatio = 0.1;
        private double weightDecay = 0.01;
        private double beta1 = 0.9;
        private double beta2 = 0.95;
        private double adamEpsilon = 1e-8;
        private double maxGradNorm = 1.0;
        private int bucketBatches = 16;
        private boolean appendEos = true;
        private double heldOutFraction = 0.1;
        private long seed = 42;
        private int logEvery = 25;
        private int evalEvery = 0;
        private int evalBatchSize = 32;

        private Builder() {}

        public Builder steps(int v) {
            steps = v;
            return this;
        }

        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        public Builder learningRate(double v) {
            learningRate = v;
            return this;
        }

        public Builder warmupSteps(int v) {
            warmupSteps = v;
            return this;
        }

        public Builder minLearningRateRatio(double v) {
            minLearningRateRatio = v;
            return this;
        }

        public Builder weightDecay(double v) {
            weightDecay = v;
            return this;
        }

        public Builder beta1(double v) {
            beta1 = v;
            return this;
        }

        public Builder beta2(double v) {
            beta2 = v;
            return this;
        }

        public Builder adamEpsilon(double v) {
            adamEpsilon = v;
            return this;
        }

        public Builder maxGradNorm(double v) {
            maxGradNorm = v;
            return this;
        }

        public Builder bucketBatches(int v) {
            bucketBatches = v;
            return this;
        }

        public Builder appendEos(boolean v) {
            appendEos = v;
            return this;
        }

        public Builder heldOutFraction(double v) {
            heldOutFraction = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder logEvery(int v) {
            logEvery = v;
            return this;
        }

        public Builder evalEvery(int v) {
            evalEvery = v;
            return this;
        }

        public Builder evalBatchSize(int v) {
            evalBatchSize = v;
            return this;
        }

        public TrainerParams build() {
            return new TrainerParams(steps, batchSize, learningRate, warmupSteps, minLearningRateRatio, weightDecay, beta1,
                    beta2, adamEpsilon, maxGradNorm, bucketBatches, appendEos, heldOutFraction, seed, logEvery, evalEvery,
                    evalBatchSize);
        }
    }
}
