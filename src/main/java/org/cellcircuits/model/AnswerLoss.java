package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * Next-token cross-entropy on the answer tokens only (cell2sentence's {@code loss_on_response_only}): the mean over
 * every answer token of the batch of -log P(token | prompt, earlier answer tokens). Prompt tokens and padding add
 * nothing. Rows are right-padded and the padding is masked out of attention, so a row's loss does not depend on
 * what else is in its batch.
 */
public final class AnswerLoss {

    /** Any id will do: padded positions are masked out of attention and never read. */
    private static final long PAD_ID = 0;

    private AnswerLoss() {}

    /**
     * The loss of one batch as a scalar NDArray in {@code manager}; call it inside a {@code GradientCollector} to
     * backpropagate. Only the answer positions are unembedded, so the (B, T, vocab) logits are never built.
     */
    public static NDArray mean(GptNeoX model, NDManager manager, List<AnswerTokens> batch) {
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("loss of an empty batch");
        }
        List<long[]> rows = new ArrayList<>(batch.size());
        for (AnswerTokens ex : batch) {
            rows.add(ex.input());
        }
        TokenBatch tokens = TokenBatch.rightPadded(rows, PAD_ID);
        int t = tokens.seqLen();
        int n = batch.stream().mapToInt(ex -> ex.answer().length).sum();
        long[] readFrom = new long[n]; // flat (row * T + position) whose hidden state predicts the target
        long[] targets = new long[n];
        int k = 0;
        for (int i = 0; i < batch.size(); i++) {
            long[] prompt = batch.get(i).prompt();
            long[] answer = batch.get(i).answer();
            for (int j = 0; j < answer.length; j++) {
                readFrom[k] = (long) i * t + prompt.length - 1 + j;
                targets[k] = answer[j];
                k++;
            }
        }
        ForwardOptions options = ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE).keeping(List.of(HookNames.lnFinalNormalized()));
        try (ActivationCache cache = model.run(manager, tokens, options)) {
            NDManager m = cache.manager();
            NDArray hidden = cache.get(HookNames.lnFinalNormalized()); // (B, T, C)
            NDArray flat = hidden.reshape(-1, hidden.getShape().get(2)); // (B*T, C)
            NDArray picked = Ops.rows(m.create(readFrom), flat); // (N, C)
            NDArray logits = model.unembed(picked); // (N, V)
            if (logits.getDataType() != DataType.FLOAT32) {
                logits = logits.toType(DataType.FLOAT32, false);
            }
            NDArray logProbs = logits.logSoftmax(-1).gather(m.create(targets, new Shape(n, 1)), 1); // (N, 1)
            NDArray loss = logProbs.mean().neg(); // ()
            // The autograd graph holds what backward needs; only the scalar's handle moves out of the cache.
            loss.attach(manager);
            return loss;
        }
    }
}
