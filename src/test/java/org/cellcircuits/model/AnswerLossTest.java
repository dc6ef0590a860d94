package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The answer-only loss against brute force (each answer token's log-probability from an unbatched forward pass of
 * its own prefix), against the analytic value ln(vocab) of a model whose logits are all zero, and its gradient
 * against finite differences. Autograd through the forward pass itself is checked against finite differences in
 * {@link GptNeoXBehaviourTest#gradientOfTheLogitsMatchesFiniteDifferences}; here it is the loss head (row
 * selection, log-softmax, target gather, mean) on top of it.
 */
class AnswerLossTest {

    static final NeoXConfig CONFIG = new NeoXConfig(32, 4, 2, 64, 0.25, 10000, true, 1e-5, 50, 64, false, true, 49);
    static final AnswerTokens SHORT = new AnswerTokens(new long[] {3, 17, 5, 8}, new long[] {21, 4, 49});
    static final AnswerTokens LONG = new AnswerTokens(new long[] {11, 2, 30, 30, 7, 41, 9, 13, 6}, new long[] {22, 49});

    /** Each answer token's logits, from an unbatched forward pass of its own prefix. */
    static float[][] answerLogits(GptNeoX model, AnswerTokens ex) {
        long[] prompt = ex.prompt();
        long[] answer = ex.answer();
        float[][] out = new float[answer.length][];
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            for (int j = 0; j < answer.length; j++) {
                long[] prefix = Arrays.copyOf(prompt, prompt.length + j);
                System.arraycopy(answer, 0, prefix, prompt.length, j);
                try (ActivationCache c = model.run(m, TokenBatch.rightPadded(List.of(prefix), 0),
                        ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST))) {
                    out[j] = c.logits().toFloatArray();
                }
            }
        }
        return out;
    }

    /** -sum over answer tokens of log P(token | prefix), each prefix run alone, log-softmax in doubles. */
    static double bruteForceNll(GptNeoX model, AnswerTokens ex) {
        long[] answer = ex.answer();
        float[][] all = answerLogits(model, ex);
        double nll = 0;
        for (int j = 0; j < answer.length; j++) {
            float[] logits = all[j];
            double max = Double.NEGATIVE_INFINITY;
            for (float l : logits) {
                max = Math.max(max, l);
            }
            double z = 0;
            for (float l : logits) {
                z += Math.exp(l - max);
            }
            nll -= logits[(int) answer[j]] - max - Math.log(z);
        }
        return nll;
    }

    /**
     * How far the fp32 loss of a batch can be from its brute force {@code expected}: each answer token's logits come
     * from a forward pass of another length (batched, padded) in other summation orders, within Fp32Bounds.deep over
     * the forward's chain at the batch's padded length, scaled by max|logit|; log-softmax moves by at most twice a
     * logit's change, plus its own fp32 rounding against the doubles of the brute force (logSoftmaxOwn); a mean of
     * per-token values keeps a per-token bound, and the fp32 sum and division over k tokens add twoOrders(k + 1, loss).
     */
    static double bound(GptNeoX model, List<AnswerTokens> batch, double expected) {
        int positions = 0;
        int tokens = 0;
        double maxAbsLogit = 0;
        for (AnswerTokens ex : batch) {
            positions = Math.max(positions, ex.prompt().length + ex.answer().length);
            tokens += ex.answer().length;
            for (float[] l : answerLogits(model, ex)) {
                maxAbsLogit = Math.max(maxAbsLogit, Fp32Bounds.maxAbs(l));
            }
        }
        NeoXConfig c = model.config();
        return 2 * Fp32Bounds.deep(Fp32Bounds.forwardChain(c, positions), maxAbsLogit)
                + Fp32Bounds.logSoftmaxOwn(c.vocabSize(), maxAbsLogit) + Fp32Bounds.twoOrders(tokens + 1, expected);
    }

    static double loss(GptNeoX model, List<AnswerTokens> batch) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            return AnswerLoss.mean(model, m, batch).getFloat();
        }
    }

    @Test
    void oneExampleLossIsTheMeanAnswerTokenNegativeLogLikelihood() {
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 5)) {
            double expected = bruteForceNll(model, SHORT) / 3;
            // bound(): deep over the forward's chain, log-softmax's own rounding and the mean's. Measured at 1 and
            // 2 libtorch threads: 6.2e-8 against 5.3e-5 (was 1e-5).
            double bound = bound(model, List.of(SHORT), expected);
            double got = loss(model, List.of(SHORT));
            assertThat(got).as("loss of one example vs brute force").isCloseTo(expected, within(bound));
        }
    }

    @Test
    void batchLossWeighsEveryAnswerTokenOnceWhateverThePadding() {
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 6)) {
            // SHORT is padded to LONG's length in this batch; its tokens must not see the padding
            double expected = (bruteForceNll(model, SHORT) + bruteForceNll(model, LONG)) / (3 + 2);
            // bound(): as for one example, at LONG's padded length. Measured at 1 and 2 libtorch threads: 1.0e-7
            // in either order against 6.2e-5 (was 1e-5).
            double bound = bound(model, List.of(SHORT, LONG), expected);
            double ab = loss(model, List.of(SHORT, LONG));
            double ba = loss(model, List.of(LONG, SHORT));
            assertThat(ab).as("SHORT, LONG vs brute force").isCloseTo(expected, within(bound));
            assertThat(ba).as("LONG, SHORT vs brute force").isCloseTo(expected, within(bound));
        }
    }

    @Test
    void zeroUnembeddingGivesTheUniformLossLnVocab() {
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 7)) {
            NDArray w = model.parameters().get("embed_out.weight");
            w.subi(w);
            assertThat(loss(model, List.of(SHORT, LONG))).isCloseTo(Math.log(50), within(1e-6));
        }
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        List<AnswerTokens> batch = List.of(SHORT, LONG);
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 8); NDManager m = NDManager.newBaseManager(Device.cpu())) {
            String[] names = {"embed_out.weight", "gpt_neox.embed_in.weight", "gpt_neox.layers.1.attention.query_key_value.weight"};
            int[][] entries = {{21, 3}, {30, 5}, {40, 7}};
            for (String name : names) {
                model.parameters().get(name).setRequiresGradient(true);
            }
            float[][] grads = new float[names.length][];
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                gc.backward(AnswerLoss.mean(model, m, batch));
            }
            for (int i = 0; i < names.length; i++) {
                try (NDArray g = model.parameters().get(names[i]).getGradient()) {
                    grads[i] = g.toFloatArray();
                }
                model.parameters().get(names[i]).setRequiresGradient(false);
            }
            float eps = 1e-2f;
            for (int i = 0; i < names.length; i++) {
                NDArray w = model.parameters().get(names[i]);
                int r = entries[i][0];
                int c = entries[i][1];
                float orig = w.getFloat(r, c);
                w.set(new NDIndex(r, c), orig + eps);
                double plus = loss(model, batch);
                w.set(new NDIndex(r, c), orig - eps);
                double minus = loss(model, batch);
                w.set(new NDIndex(r, c), orig);
                double fd = (plus - minus) / (2 * eps);
                double g = grads[i][r * (int) w.getShape().get(1) + c];
                assertThat(Math.abs(fd)).as("finite difference of %s[%d,%d] must be visible", names[i], r, c).isGreaterThan(1e-4);
                assertThat(g).as("dLoss/d%s[%d,%d]: autograd %g vs finite difference %g", names[i], r, c, g, fd)
                        .isCloseTo(fd, within(2e-2 * Math.abs(fd) + 2e-5));
            }
        }
    }
}
