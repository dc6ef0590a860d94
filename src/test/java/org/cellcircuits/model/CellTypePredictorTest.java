package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Batched greedy decoding and answer scoring against one-prompt-at-a-time brute force, on a random model with a
 * byte-level tokenizer (one token per byte, so token 46 is '.', 10 is '\n', 256 is end-of-text).
 */
class CellTypePredictorTest {

    static final List<String> PROMPTS = List.of(
            "Cell sentence: VWF PECAM1 CDH5 KDR.\nThe cell type corresponding to these genes is:",
            "Cell sentence: MYH6 TNNT2.\nThe cell type is:",
            "Cell sentence: DCN LUM COL1A2 PDGFRA FBLN1 GSN.\nThe cell type corresponding to these genes is:");
    static final NeoXConfig CONFIG = new NeoXConfig(32, 4, 2, 128, 0.25, 10000, true, 1e-5, 257, 256, false, true, 256);

    static HuggingFaceTokenizer tokenizer;

    @BeforeAll
    static void loadTokenizer() {
        tokenizer = CellTypePredictor.loadTokenizer(NeoXFixtures.folder("parallel_rot25").getParent().resolve("bytelevel"));
    }

    @AfterAll
    static void closeTokenizer() {
        tokenizer.close();
    }

    /** Log-softmax rows of one unbatched sequence's logits, in doubles. */
    static double[][] logProbsAlone(GptNeoX model, long[] ids) {
        return logProbsAlone(model, ids, ForwardOptions.logitsOnly());
    }

    /** The same under {@code options}' MLP replacements and edits. */
    static double[][] logProbsAlone(GptNeoX model, long[] ids, ForwardOptions options) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
                ActivationCache c = model.run(m, TokenBatch.rightPadded(List.of(ids), 0), options)) {
            float[] l = c.logits().toFloatArray();
            int v = CONFIG.vocabSize();
            double[][] out = new double[ids.length][v];
            for (int t = 0; t < ids.length; t++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < v; k++) {
                    max = Math.max(max, l[t * v + k]);
                }
                double z = 0;
                for (int k = 0; k < v; k++) {
                    z += Math.exp(l[t * v + k] - max);
                }
                for (int k = 0; k < v; k++) {
                    out[t][k] = l[t * v + k] - max - Math.log(z);
                }
            }
            return out;
        }
    }

    static int argmax(double[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            if (row[i] > row[best]) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void batchedGreedyDecodingEqualsDecodingEachPromptAlone() {
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 5)) {
            List<Prediction> batched = new CellTypePredictor(model, tokenizer, new PredictOptions(6, 2, true)).predict(PROMPTS);
            assertThat(batched).hasSize(3);
            for (int i = 0; i < PROMPTS.size(); i++) {
                Greedy want = greedyAlone(model, tokenizer.encode(PROMPTS.get(i)).getIds(), 6, ForwardOptions.logitsOnly());
                Prediction p = batched.get(i);
                assertThat(p.tokenIds()).as("prompt %d", i).containsExactly(want.ids());
                double bound = greedyBound(model, i, want, ForwardOptions.logitsOnly());
                assertThat(p.logProb()).as("prompt %d (bound %.2e)", i, bound).isCloseTo(want.logProb(), org.assertj.core.data.Offset.offset(bound));
                assertThat(p.stopped()).isEqualTo(want.stopped());
            }
        }
    }

    /**
     * Decoding on from a forward pass that already ran the prompts, right-padded and each followed by other tokens
     * (a teacher-forced answer, as the harvest runs them): the greedy answers of each prompt decoded alone, for any
     * subset and order of the batch's rows, and the rows' trailing tokens are never attended to.
     */
    @Test
    void decodingOnFromAForwardPassOfPromptsWithTrailingTokensEqualsDecodingEachPromptAlone() {
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 5);
                NDManager m = NDManager.newBaseManager(Device.cpu())) {
            List<long[]> rows = new ArrayList<>();
            int[] promptLengths = new int[PROMPTS.size()];
            for (int i = 0; i < PROMPTS.size(); i++) {
                long[] p = tokenizer.encode(PROMPTS.get(i)).getIds();
                promptLengths[i] = p.length;
                long[] row = Arrays.copyOf(p, p.length + 2 + i); // trailing tokens of different counts
                Arrays.fill(row, p.length, row.length, 'x');
                rows.add(row);
            }
            ForwardOptions options = ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE)
                    .keeping(List.of(HookNames.lnFinalNormalized()));
            CellTypePredictor predictor = new CellTypePredictor(model, tokenizer, new PredictOptions(6, 2, true));
            try (ActivationCache cache = model.run(m, TokenBatch.rightPadded(rows, 0), options, true)) {
                int[] order = {2, 0, 1}; // not the batch's order, and batches of 2 then 1
                int[] lengths = {promptLengths[2], promptLengths[0], promptLengths[1]};
                List<Prediction> continued = predictor.predictContinuing(cache, order, lengths);
                assertThat(continued).hasSize(3);
                for (int j = 0; j < order.length; j++) {
                    int i = order[j];
                    Greedy want = greedyAlone(model, tokenizer.encode(PROMPTS.get(i)).getIds(), 6,
                            ForwardOptions.logitsOnly());
                    Prediction p = continued.get(j);
                    assertThat(p.tokenIds()).as("prompt %d", i).containsExactly(want.ids());
                    double bound = greedyBound(model, i, want, ForwardOptions.logitsOnly());
                    assertThat(p.logProb()).as("prompt %d (bound %.2e)", i, bound)
                            .isCloseTo(want.logProb(), org.assertj.core.data.Offset.offset(bound));
                    assertThat(p.stopped()).isEqualTo(want.stopped());
                }
                assertThatThrownBy(() -> predictor.predictContinuing(cache, new int[] {1}, new int[] {999}))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 1 with a prompt of 999");
                // the keys and values were consumed (freed) by the decoding
                assertThatThrownBy(() -> predictor.predictContinuing(cache, new int[] {1}, new int[] {2}))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("consumed");
            }
            try (ActivationCache plain = model.run(m, TokenBatch.rightPadded(rows, 0), options)) {
                assertThatThrownBy(() -> predictor.predictContinuing(plain, new int[] {0}, new int[] {1}))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("kept no keys and values");
            }
        }
    }

    @Test
    void decodingAndScoringUnderMlpReplacementsEqualTheReplacedModelRunAlone() {
        // Block 0's MLP becomes 40 x its input, block 1's input is scaled by -3 before its MLP: position-wise
        // changes that move the logits enough to change the greedy answers.
        ForwardOptions changed = ForwardOptions.logitsOnly()
                .replacingMlp(0, x -> x.mul(40f))
                .editing(HookNames.mlpIn(1), x -> x.mul(-3f));
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 5)) {
            PredictOptions options = new PredictOptions(6, 2, true);
            List<Prediction> plain = new CellTypePredictor(model, tokenizer, options).predict(PROMPTS);
            List<Prediction> batched = new CellTypePredictor(model, tokenizer, options, changed).predict(PROMPTS);
            boolean anyDiffers = false;
            for (int i = 0; i < PROMPTS.size(); i++) {
                Greedy want = greedyAlone(model, tokenizer.encode(PROMPTS.get(i)).getIds(), 6, changed);
                Prediction p = batched.get(i);
                assertThat(p.tokenIds()).as("prompt %d", i).containsExactly(want.ids());
                double bound = greedyBound(model, i, want, changed);
                assertThat(p.logProb()).as("prompt %d (bound %.2e)", i, bound).isCloseTo(want.logProb(), org.assertj.core.data.Offset.offset(bound));
                anyDiffers |= !Arrays.equals(p.tokenIds(), plain.get(i).tokenIds());
            }
            assertThat(anyDiffers).as("the replacement changes some greedy answer").isTrue();

            List<String> answers = List.of(" endothelial cell.", " cardiac muscle cell.", " fibroblast.");
            double[] scored = new CellTypePredictor(model, tokenizer, options, changed).answerLogProbs(PROMPTS, answers);
            for (int i = 0; i < PROMPTS.size(); i++) {
                long[] p = tokenizer.encode(PROMPTS.get(i)).getIds();
                long[] a = tokenizer.encode(answers.get(i), false, false).getIds();
                long[] seq = Arrays.copyOf(p, p.length + a.length);
                System.arraycopy(a, 0, seq, p.length, a.length);
                double[][] lp = logProbsAlone(model, seq, changed);
                double want = 0;
                for (int k = 0; k < a.length; k++) {
                    want += lp[p.length - 1 + k][(int) a[k]];
                }
                double bound = logProbBound(a.length, longest(answers), maxAbsLogit(model, seq, changed));
                assertThat(scored[i]).as("answer %d (bound %.2e)", i, bound).isCloseTo(want, org.assertj.core.data.Offset.offset(bound));
            }
        }
    }

    /** The largest |logit| of one unbatched sequence under {@code options}. */
    static double maxAbsLogit(GptNeoX model, long[] ids, ForwardOptions options) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
                ActivationCache c = model.run(m, TokenBatch.rightPadded(List.of(ids), 0), options)) {
            return Fp32Bounds.maxAbs(c.logits().toFloatArray());
        }
    }

    /**
     * How far a batched (padded, KV-cached) sum of {@code tokens} log-probs may be from the same sum computed alone:
     * each logit is a whole forward pass over at most {@code positions} tokens in other summation orders, so within
     * Fp32Bounds.deep(forwardChain, max|logit|); log-softmax moves by at most twice a logit's change (|d logp_k| <=
     * |dl_k| + max_j |dl_j|), plus {@link #logSoftmaxOwn}. Measured (greedy, scored, plain and replaced): at most
     * 9.7e-7 at 1 and 2 libtorch threads, bounds 9.1e-4 .. 3.2e-3 (the old fixed 1e-4 came from one run).
     */
    static double logProbBound(int tokens, int positions, double maxAbsLogit) {
        return tokens * (2 * Fp32Bounds.deep(Fp32Bounds.forwardChain(CONFIG, positions), maxAbsLogit)
                + logSoftmaxOwn(maxAbsLogit));
    }

    /** Two fp32 log-softmaxes of the same logits: {@link Fp32Bounds#logSoftmaxOwn} at this vocabulary. */
    static double logSoftmaxOwn(double maxAbsLogit) {
        return Fp32Bounds.logSoftmaxOwn(CONFIG.vocabSize(), maxAbsLogit);
    }

    /** What greedy decoding of one prompt alone gives: tokens, summed log-prob, whether it stopped. */
    record Greedy(long[] ids, double logProb, boolean stopped) {}

    /**
     * The reference decoder: the full forward of the growing sequence each step (no cache, no batch), argmax, stop at
     * '.', newline or end-of-text, at most {@code maxNew} tokens.
     */
    static Greedy greedyAlone(GptNeoX model, long[] prompt, int maxNew, ForwardOptions options) {
        List<Long> gen = new ArrayList<>();
        double lp = 0;
        boolean stopped = false;
        for (int step = 0; step < maxNew && !stopped; step++) {
            long[] seq = Arrays.copyOf(prompt, prompt.length + gen.size());
            for (int k = 0; k < gen.size(); k++) {
                seq[prompt.length + k] = gen.get(k);
            }
            double[] last = logProbsAlone(model, seq, options)[seq.length - 1];
            int next = argmax(last);
            gen.add((long) next);
            lp += last[next];
            stopped = next == 256 || next == '.' || next == '\n';
        }
        return new Greedy(gen.stream().mapToLong(Long::longValue).toArray(), lp, stopped);
    }

    /** logProbBound for prompt i's greedy answer: its length, the batch's longest prompt plus the answer budget. */
    static double greedyBound(GptNeoX model, int i, Greedy want, ForwardOptions options) {
        long[] prompt = tokenizer.encode(PROMPTS.get(i)).getIds();
        long[] seq = Arrays.copyOf(prompt, prompt.length + want.ids().length);
        System.arraycopy(want.ids(), 0, seq, prompt.length, want.ids().length);
        int positions = 0;
        for (String q : PROMPTS) {
            positions = Math.max(positions, tokenizer.encode(q).getIds().length + 6);
        }
        return logProbBound(want.ids().length, positions, maxAbsLogit(model, seq, options));
    }

    /** The longest prompt + answer of PROMPTS and {@code answers}, in tokens. */
    static int longest(List<String> answers) {
        int n = 0;
        for (int i = 0; i < PROMPTS.size(); i++) {
            n = Math.max(n, tokenizer.encode(PROMPTS.get(i)).getIds().length + tokenizer.encode(answers.get(i), false, false).getIds().length);
        }
        return n;
    }

    /** Makes the model predict {@code token} at every position: final LayerNorm outputs its bias, which only that row of embed_out reads. */
    static GptNeoX alwaysPredicting(int token) {
        GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 9);
        model.parameters().get("gpt_neox.final_layer_norm.weight").set(new NDIndex(":"), 0f);
        model.parameters().get("gpt_neox.final_layer_norm.bias").set(new NDIndex(":"), 1f);
        NDArray out = model.parameters().get("embed_out.weight");
        out.set(new NDIndex(token), 1f);
        return model;
    }

    @Test
    void decodingStopsAtPeriodNewlineAndEndOfText() {
        for (int stop : new int[] {'.', '\n', 256}) {
            try (GptNeoX model = alwaysPredicting(stop)) {
                Prediction p = new CellTypePredictor(model, tokenizer, new PredictOptions(5, 8, true)).predict(PROMPTS.subList(0, 1)).get(0);
                assertThat(p.stopped()).as("stop token %d", stop).isTrue();
                assertThat(p.answer()).isEmpty();
                assertThat(p.tokenIds()).containsExactly(stop);
                assertThat(p.logProb()).isBetween(-1e-3, 0.0);
            }
        }
        try (GptNeoX model = alwaysPredicting('a')) {
            Prediction p = new CellTypePredictor(model, tokenizer, new PredictOptions(5, 8, true)).predict(PROMPTS.subList(0, 1)).get(0);
            assertThat(p.stopped()).isFalse();
            assertThat(p.answer()).isEqualTo("aaaaa");
        }
        try (GptNeoX model = alwaysPredicting('.')) {
            Prediction p = new CellTypePredictor(model, tokenizer, new PredictOptions(4, 8, false)).predict(PROMPTS.subList(0, 1)).get(0);
            assertThat(p.answer()).isEqualTo("....");
        }
    }

    @Test
    void answerLogProbsAreSumsOfTheAnswerTokensLogProbs() {
        List<String> answers = List.of(" endothelial cell.", " cardiac muscle cell.", " fibroblast.");
        try (GptNeoX model = GptNeoX.initialize(CONFIG, Device.cpu(), 6)) {
            CellTypePredictor predictor = new CellTypePredictor(model, tokenizer, new PredictOptions(4, 2, true));
            double[] batched = predictor.answerLogProbs(PROMPTS, answers);
            for (int i = 0; i < PROMPTS.size(); i++) {
                long[] p = tokenizer.encode(PROMPTS.get(i)).getIds();
                long[] a = tokenizer.encode(answers.get(i), false, false).getIds();
                long[] seq = Arrays.copyOf(p, p.length + a.length);
                System.arraycopy(a, 0, seq, p.length, a.length);
                double[][] lp = logProbsAlone(model, seq);
                double expected = 0;
                for (int t = p.length; t < seq.length; t++) {
                    expected += lp[t - 1][(int) seq[t]];
                }
                assertThat(a).hasSize(answers.get(i).length()); // byte-level: one token per character
                double bound = logProbBound(a.length, longest(answers), maxAbsLogit(model, seq, ForwardOptions.logitsOnly()));
                assertThat(batched[i]).as("answer %d (bound %.2e)", i, bound).isCloseTo(expected, org.assertj.core.data.Offset.offset(bound));
            }
            assertThatThrownBy(() -> predictor.answerLogProbs(PROMPTS, answers.subList(0, 1))).hasMessageContaining("3 prompts but 1 answers");
        }
    }

    @Test
    void scoringTheGreedyAnswerGivesTheGreedyLogProb() {
        try (GptNeoX model = alwaysPredicting('a')) {
            // make the runner-up matter: the log-prob of "a" is no longer ~0 once a second row competes
            model.parameters().get("embed_out.weight").set(new NDIndex('b'), 0.9f);
            Prediction greedy = new CellTypePredictor(model, tokenizer, new PredictOptions(4, 2, false)).predict(PROMPTS.subList(1, 2)).get(0);
            assertThat(greedy.answer()).isEqualTo("aaaa");
            assertThat(greedy.logProb()).isLessThan(-0.1);
            double scored = new CellTypePredictor(model, tokenizer, PredictOptions.defaults())
                    .answerLogProbs(PROMPTS.subList(1, 2), List.of("aaaa"))[0];
            // The KV-cached greedy decoder against one scoring pass of prompt + answer. With ln_final's weight 0 its
            // output is its bias (all ones) exactly, whatever came before, so the logits differ only by the
            // unembedding's order: logit j within twoOrders(C, sum_k |W_jk|); log-softmax doubles that and adds
            // logSoftmaxOwn; 4 answer tokens. Measured 1.83e-6 at 1 and 2 libtorch threads, bound 1.2e-3.
            int c = CONFIG.hiddenSize();
            float[] w = model.parameters().get("embed_out.weight").toFloatArray(); // (V, C)
            double rowSum = 0;
            double maxLogit = 0;
            for (int j = 0; j < CONFIG.vocabSize(); j++) {
                double s = 0;
                for (int k = 0; k < c; k++) {
                    s += Math.abs(w[j * c + k]);
                }
                rowSum = Math.max(rowSum, s);
                maxLogit = Math.max(maxLogit, s); // |logit j| = |sum_k W_jk| <= sum_k |W_jk|
            }
            double bound = 4 * (2 * Fp32Bounds.twoOrders(c, rowSum) + logSoftmaxOwn(maxLogit));
            assertThat(scored).as("bound %.2e", bound).isCloseTo(greedy.logProb(), org.assertj.core.data.Offset.offset(bound));
        }
    }

    @Test
    void longPromptsAreNotTruncatedAt512Tokens() {
        String longPrompt = "Cell sentence: " + "ACTB ".repeat(150) + "\nThe cell type is:";
        long[] ids = tokenizer.encode(longPrompt).getIds();
        assertThat(ids.length).isEqualTo(longPrompt.length()).isGreaterThan(512);
    }
}
