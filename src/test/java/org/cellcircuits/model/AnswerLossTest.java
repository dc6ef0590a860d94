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

    /** -sum over answer tokens of log P(token | prefix), each prefix run alone, log-softmax in doubles. */
    static double bruteForceNll(GptNeoX model, AnswerTokens ex) {
        long[] prompt = ex.prompt();
        long[] answer = ex.answer();
        double nll = 0;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            for (int j = 0; j < answer.length; j++) {
                long[] prefix = Arrays.copyOf(prompt, prompt.length + j);
                System.arraycopy(answer, 0, prefix, prompt.length, j);
                try (ActivationCache c = model.run(m, TokenBatch.rightPadded(List.of(prefix), 0),
                        ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST))) {
                    float[] logits = c.logits().toFloatArray();
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
            }
        }
        return nll;
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
            assertThat(loss(model, List.of(SHORT))).as("loss of one example vs brute force").isCloseTo(expected, within(1e-5));
        }
    }

    @Test
    void batchLossWeighsEveryAnswerTokenOnceWhateverThePadding() {
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 6)) {
            // SHORT is padded to LONG's length in this batch; its tokens must not see the padding
            double expected = (bruteForceNll(model, SHORT) + bruteForceNll(model, LONG)) / (3 + 2);
            assertThat(loss(model, List.of(SHORT, LONG))).isCloseTo(expected, within(1e-5));
            assertThat(loss(model, List.of(LONG, SHORT))).isCloseTo(expected, within(1e-5));
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
