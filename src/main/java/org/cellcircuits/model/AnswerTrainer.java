package org.cellcircuits.model;

import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.cellcircuits.optim.AdamW;

/**
 * Trains a {@link GptNeoX} in place to continue prompts with their answers: next-token cross-entropy on the answer
 * tokens only ({@link AnswerLoss}), DJL autograd on the PyTorch engine in fp32, {@link AdamW} with linear warm-up
 * and cosine decay ({@link TrainerParams#learningRateAt}), global-norm gradient clipping, length-bucketed batches
 * ({@link LengthBuckets}) in a seeded order. Evaluation asks {@link CellTypePredictor} for greedy answers, so the
 * accuracy reported is that of the prediction code every later stage uses.
 *
 * <p>What is trained is exactly what prediction scores and decodes: the prompt tokenized on its own, then the
 * answer tokenized on its own ({@link CellTypePredictor#answerLogProbs} joins them the same way), then, with
 * {@link TrainerParams#appendEos()}, the end-of-text token as cell2sentence's {@code tokenize_loss_on_response}
 * appends it.
 */
public final class AnswerTrainer {

    private final TrainerParams params;
    private final Consumer<String> progress;

    /** @param progress receives one line per {@link TrainerParams#logEvery()} steps and the evaluation tables */
    public AnswerTrainer(TrainerParams params, Consumer<String> progress) {
        this.params = params;
        this.progress = progress;
    }

    /** Splits {@code examples} by {@link HeldOutSplit#byLabel}, trains on one part, evaluates on the other. */
    public TrainingReport fit(GptNeoX model, HuggingFaceTokenizer tokenizer, List<AnswerExample> examples) {
        HeldOutSplit split = HeldOutSplit.byLabel(examples, params.heldOutFraction(), params.seed());
        return train(model, tokenizer, split.train(), split.heldOut());
    }

    /** Trains on {@code train}; evaluates greedy answers on {@code heldOut} (may be empty) after training. */
    public TrainingReport train(GptNeoX model, HuggingFaceTokenizer tokenizer, List<AnswerExample> train, List<AnswerExample> heldOut) {
        if (train.isEmpty()) {
            throw new IllegalArgumentException("no training examples");
        }
        if (model.precision() != Precision.FP32) {
            throw new IllegalArgumentException(String.format("training needs an fp32 model; this one is %s", model.precision()));
        }
        long eos = model.config().eosTokenId();
        if (params.appendEos() && eos < 0) {
            throw new IllegalArgumentException("appendEos is set but the model config has no eos_token_id");
        }
        List<AnswerTokens> encoded = encode(tokenizer, train, params.appendEos() ? eos : -1);
        int[] lengths = encoded.stream().mapToInt(AnswerTokens::inputLength).toArray();
        int longest = Arrays.stream(lengths).max().getAsInt();
        if (longest > model.config().maxPositions()) {
            throw new IllegalArgumentException(String.format(
                    "the longest training example has %d tokens; the model's max_position_embeddings is %d",
                    longest, model.config().maxPositions()));
        }
        progress.accept(String.format("training on %d examples (%d held out): %d steps of %d, prompt+answer %d to %d tokens (mean %.1f)",
                train.size(), heldOut.size(), params.steps(), params.batchSize(), Arrays.stream(lengths).min().getAsInt(), longest,
                Arrays.stream(lengths).average().getAsDouble()));

        for (NDArray p : model.parameters().values()) {
            p.setRequiresGradient(true);
        }
        double[] losses = new double[params.steps()];
        long inputTokens = 0;
        double trainNanos = 0;
        try (AdamW optimizer = AdamW.forParameters(model.parameters(), params.beta1(), params.beta2(), params.adamEpsilon(),
                params.weightDecay(), AdamW.matricesOnly(model.parameters()))) {
            Random random = new Random(params.seed());
            List<int[]> epoch = List.of();
            int next = 0;
            long windowTokens = 0;
            long windowStart = System.nanoTime();
            for (int step = 0; step < params.steps(); step++) {
                if (next == epoch.size()) {
                    epoch = LengthBuckets.epoch(lengths, params.batchSize(), params.bucketBatches(), random);
                    next = 0;
                }
                int[] indices = epoch.get(next++);
                List<AnswerTokens> batch = new ArrayList<>(indices.length);
                for (int i : indices) {
                    batch.add(encoded.get(i));
                    windowTokens += lengths[i];
                }
                double lr = params.learningRateAt(step);
                long t0 = System.nanoTime();
                double gradNorm;
                try (NDManager stepScope = model.manager().newSubManager()) {
                    try (GradientCollector collector = Engine.getEngine("PyTorch").newGradientCollector()) {
                        NDArray loss = AnswerLoss.mean(model, stepScope, batch);
                        collector.backward(loss);
                        losses[step] = loss.getFloat();
                    }
                    if (!Double.isFinite(losses[step])) {
                        throw new IllegalStateException(String.format(
                                "loss is %s at step %d (learning rate %.3g); lower learningRate or maxGradNorm", losses[step], step, lr));
                    }
                    gradNorm = AdamW.gradientNorm(model.parameters().values());
                    double scale = params.maxGradNorm() > 0 && gradNorm > params.maxGradNorm() ? params.maxGradNorm() / gradNorm : 1.0;
                    optimizer.step(model.parameters(), lr, scale);
                }
                trainNanos += System.nanoTime() - t0;
                if ((step + 1) % params.logEvery() == 0 || step + 1 == params.steps()) {
                    long now = System.nanoTime();
                    double windowSeconds = (now - windowStart) / 1e9;
                    double eta = trainNanos / 1e9 / (step + 1) * (params.steps() - step - 1);
                    progress.accept(String.format("step %d/%d  loss %.4f  lr %.2e  |grad| %.3f  %.0f tok/s  elapsed %s  eta %s",
                            step + 1, params.steps(), meanOfLast(losses, step, params.logEvery()), lr, gradNorm,
                            windowTokens / windowSeconds, duration(trainNanos / 1e9), duration(eta)));
                    inputTokens += windowTokens;
                    windowTokens = 0;
                    windowStart = now;
                }
                if (params.evalEvery() > 0 && (step + 1) % params.evalEvery() == 0 && step + 1 < params.steps() && !heldOut.isEmpty()) {
                    progress.accept("after step " + (step + 1) + ": " + evaluate(model, tokenizer, heldOut).summary().stripTrailing());
                }
            }
        } finally {
            for (NDArray p : model.parameters().values()) {
                p.setRequiresGradient(false);
            }
        }
        double finalLoss = meanOfLast(losses, params.steps() - 1, params.logEvery());
        AnswerEvaluation evaluation = heldOut.isEmpty() ? new AnswerEvaluation(List.of(), List.of()) : evaluate(model, tokenizer, heldOut);
        if (!heldOut.isEmpty()) {
            progress.accept(evaluation.summary().stripTrailing());
        }
        return new TrainingReport(params, train.size(), losses, finalLoss, inputTokens, trainNanos / 1e9, evaluation);
    }

    /** Greedy answers of the model on {@code examples}, decoding up to the longest answer plus two tokens. */
    public AnswerEvaluation evaluate(GptNeoX model, HuggingFaceTokenizer tokenizer, List<AnswerExample> examples) {
        int longestAnswer = 1;
        for (AnswerExample e : examples) {
            longestAnswer = Math.max(longestAnswer, tokenizer.encode(e.answer(), false, false).getIds().length);
        }
        PredictOptions options = new PredictOptions(longestAnswer + 2, params.evalBatchSize(), true);
        return AnswerEvaluation.run(new CellTypePredictor(model, tokenizer, options), examples);
    }

    /**
     * Token ids of each example: the prompt with the tokenizer's special tokens, the answer without, and
     * {@code eosId} after the answer when it is >= 0.
     */
    public static List<AnswerTokens> encode(HuggingFaceTokenizer tokenizer, List<AnswerExample> examples, long eosId) {
        List<AnswerTokens> out = new ArrayList<>(examples.size());
        for (AnswerExample e : examples) {
            long[] prompt = tokenizer.encode(e.prompt(), true, false).getIds();
            long[] answer = tokenizer.encode(e.answer(), false, false).getIds();
            if (prompt.length == 0 || answer.length == 0) {
                throw new IllegalArgumentException(String.format(
                        "example %s tokenizes to %d prompt and %d answer tokens; need at least 1 of each", e.id(), prompt.length, answer.length));
            }
            if (eosId >= 0) {
                answer = Arrays.copyOf(answer, answer.length + 1);
                answer[answer.length - 1] = eosId;
            }
            out.add(new AnswerTokens(prompt, answer));
        }
        return out;
    }

    private static double meanOfLast(double[] values, int last, int count) {
        int from = Math.max(0, last - count + 1);
        double s = 0;
        for (int i = from; i <= last; i++) {
            s += values[i];
        }
        return s / (last - from + 1);
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }
}
