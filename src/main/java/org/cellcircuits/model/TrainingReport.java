package org.cellcircuits.model;

/**
 * What a training run did and reached.
 *
 * @param params the hyperparameters used
 * @param trainExamples examples trained on
 * @param stepLosses the mean answer-token loss of each step's batch, in order
 * @param finalLoss mean of the last {@code logEvery} step losses
 * @param inputTokens real (non-padding) tokens the model read during training
 * @param wallSeconds training time, evaluation excluded
 * @param heldOut greedy answers on the held-out examples after training (none if there are no held-out examples)
 */
public record TrainingReport(TrainerParams params, int trainExamples, double[] stepLosses, double finalLoss, long inputTokens,
        double wallSeconds, AnswerEvaluation heldOut) {

    public TrainingReport {
        stepLosses = stepLosses.clone();
    }

    @Override
    public double[] stepLosses() {
        return stepLosses.clone();
    }

    public double tokensPerSecond() {
        return wallSeconds > 0 ? inputTokens / wallSeconds : Double.NaN;
    }
}
