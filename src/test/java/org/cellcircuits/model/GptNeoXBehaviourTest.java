package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Activation;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Padding, hook filtering, MLP replacement, edits and gradients of the forward pass, on the fixture models. */
class GptNeoXBehaviourTest {

    static GptNeoX parallel;
    static NDManager manager;
    static final List<long[]> SEQS = List.of(new long[] {5, 17, 3, 88, 41, 9, 60}, new long[] {12, 7}, new long[] {33, 2, 71, 4});

    @BeforeAll
    static void load() {
        parallel = GptNeoX.load(NeoXFixtures.folder("parallel_rot25"), Device.cpu());
        manager = NDManager.newBaseManager(Device.cpu());
    }

    @AfterAll
    static void close() {
        manager.close();
        parallel.close();
    }

    static float[] lastLogits(GptNeoX model, TokenBatch batch) {
        try (ActivationCache c = model.run(manager, batch, ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST))) {
            return c.logits().toFloatArray();
        }
    }

    static double maxAbs(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @Test
    void paddedRowsPredictWhatTheyPredictAlone() {
        float[] left = lastLogits(parallel, TokenBatch.leftPadded(SEQS, 0));
        float[] right = lastLogits(parallel, TokenBatch.rightPadded(SEQS, 0));
        int v = parallel.config().vocabSize();
        int t = TokenBatch.rightPadded(SEQS, 0).seqLen();
        for (int i = 0; i < SEQS.size(); i++) {
            float[] alone = lastLogits(parallel, TokenBatch.rightPadded(List.of(SEQS.get(i)), 0));
            float[] l = java.util.Arrays.copyOfRange(left, i * v, (i + 1) * v);
            float[] r = java.util.Arrays.copyOfRange(right, i * v, (i + 1) * v);
            // A whole forward pass in other shapes (batch, padded length), so other summation orders:
            // Fp32Bounds.deep over the forward's reduction chain at the padded length, scaled by max|logit|.
            // Measured: at most 1.07e-6 (1 libtorch thread), 1.37e-6 (2 threads), bounds 5.5e-4 .. 6.1e-4.
            double bound = Fp32Bounds.deep(Fp32Bounds.forwardChain(parallel.config(), t), Fp32Bounds.maxAbs(alone));
            assertThat(maxAbs(l, alone)).as("left-padded row %d vs alone (bound %.2e)", i, bound).isLessThan(bound);
            assertThat(maxAbs(r, alone)).as("right-padded row %d vs alone (bound %.2e)", i, bound).isLessThan(bound);
        }
    }

    @Test
    void decodingWithCachedKeysAndValuesEqualsRunningTheWholeSequence() {
        long[][] appended = {{7, 8, 9}, {90, 1, 2}, {44, 45, 46}};
        try (KvCache kv = new KvCache(manager.newSubManager(), SEQS.size(), parallel.config().numLayers())) {
            float[] cached = parallel.prefill(kv, TokenBatch.leftPadded(SEQS, 0)).toFloatArray();
            for (int step = 0; step <= appended[0].length; step++) {
                List<long[]> grown = new java.util.ArrayList<>();
                for (int i = 0; i < SEQS.size(); i++) {
                    long[] s = java.util.Arrays.copyOf(SEQS.get(i), SEQS.get(i).length + step);
                    System.arraycopy(appended[i], 0, s, SEQS.get(i).length, step);
                    grown.add(s);
                }
                TokenBatch grownBatch = TokenBatch.rightPadded(grown, 0);
                float[] full = lastLogits(parallel, grownBatch);
                // Another decomposition of the same forward (keys and values of earlier steps concatenated, one
                // query at a time): Fp32Bounds.deep over the forward's chain at the full length, scaled by max|logit|.
                // Measured: at most 1.43e-6 at 1 and 2 libtorch threads, bounds 6.1e-4 .. 7.9e-4.
                double bound = Fp32Bounds.deep(Fp32Bounds.forwardChain(parallel.config(), grownBatch.seqLen()),
                        Fp32Bounds.maxAbs(full));
                assertThat(maxAbs(cached, full)).as("step %d (bound %.2e)", step, bound).isLessThan(bound);
                if (step < appended[0].length) {
                    long[] next = {appended[0][step], appended[1][step], appended[2][step]};
                    cached = parallel.decodeStep(kv, next).toFloatArray();
                }
            }
        }
    }

    @Test
    void lastLogitsAreTheFullLogitsAtEachRowsLastToken() {
        TokenBatch batch = TokenBatch.rightPadded(SEQS, 0);
        float[] last = lastLogits(parallel, batch);
        float[] w = parallel.parameters().get("embed_out.weight").toFloatArray(); // (V, C)
        try (ActivationCache c = parallel.run(manager, batch, ForwardOptions.logitsOnly()
                .keeping(List.of(HookNames.lnFinalNormalized())))) {
            int d = parallel.config().hiddenSize();
            for (int i = 0; i < SEQS.size(); i++) {
                float[] full = c.logits().get(i, batch.lastReal(i)).toFloatArray();
                // Both paths unembed the same bits of h = ln_final(x) (the forward before it is one computation),
                // but as matrices of different shapes, which torch may sum in other orders: logit j is the d-term
                // dot product h . W_j in each, so the two may differ by Fp32Bounds.twoOrders(d, sum_k |h_k W_jk|).
                // A bound of 1e-6 * max|logit| chosen from one run failed once on a clean clone at 1.43e-6.
                float[] h = c.get(HookNames.lnFinalNormalized()).get(i, batch.lastReal(i)).toFloatArray();
                for (int j = 0; j < full.length; j++) {
                    double sumAbs = 0;
                    for (int k = 0; k < d; k++) {
                        sumAbs += Math.abs((double) h[k] * w[j * d + k]);
                    }
                    assertThat((double) last[i * full.length + j]).as("row %d logit %d", i, j)
                            .isCloseTo(full[j], org.assertj.core.data.Offset.offset(Fp32Bounds.twoOrders(d, sumAbs)));
                }
            }
        }
    }

    @Test
    void onlyRequestedHooksAreKeptAndClosingFreesThem() {
        TokenBatch batch = TokenBatch.rightPadded(SEQS, 0);
        Set<String> wanted = Set.of(HookNames.mlpIn(1), HookNames.mlpOut(2), HookNames.attnPattern(0));
        NDArray kept;
        try (ActivationCache c = parallel.run(manager, batch, ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE).keeping(wanted))) {
            assertThat(c.names()).containsExactlyInAnyOrderElementsOf(wanted);
            // nothing computed from a kept activation outlives the pass: the cache holds exactly the kept arrays
            assertThat(c.manager().getManagedArrays()).hasSize(wanted.size());
            assertThat(c.get(HookNames.attnPattern(0)).getShape().getShape()).containsExactly(3, 4, 7, 7);
            assertThatThrownBy(() -> c.get(HookNames.mlpOut(0))).hasMessageContaining("was not kept");
            assertThatThrownBy(c::logits).hasMessageContaining("no logits");
            kept = c.get(HookNames.mlpIn(1));
        }
        assertThat(kept.isReleased()).isTrue();
    }

    @Test
    void attentionPatternsAreCausalMaskPaddingAndSumToOne() {
        TokenBatch batch = TokenBatch.leftPadded(SEQS, 0);
        try (ActivationCache c = parallel.run(manager, batch, ForwardOptions.logitsOnly().keeping(List.of(HookNames.attnPattern(1))))) {
            NDArray p = c.get(HookNames.attnPattern(1)); // (B, nh, T, T)
            float[] v = p.toFloatArray();
            int t = batch.seqLen();
            int nh = (int) p.getShape().get(1);
            for (int b = 0; b < 3; b++) {
                for (int h = 0; h < nh; h++) {
                    for (int q = 0; q < t; q++) {
                        if (!batch.isReal(b, q)) {
                            continue;
                        }
                        double sum = 0;
                        for (int k = 0; k < t; k++) {
                            float w = v[((b * nh + h) * t + q) * t + k];
                            if (k > q || !batch.isReal(b, k)) {
                                assertThat(w).as("b%d h%d q%d k%d", b, h, q, k).isEqualTo(0f);
                            }
                            sum += w;
                        }
                        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void replacingAnMlpWithItsOwnFormulaChangesNothingAndZeroingRemovesIt() {
        TokenBatch batch = TokenBatch.rightPadded(SEQS, 0);
        Map<String, NDArray> p = parallel.parameters();
        String pre = "gpt_neox.layers.1.mlp.";
        MlpReplacement same = in -> Ops.linear(Activation.gelu(Ops.linear(in, p.get(pre + "dense_h_to_4h.weight"), p.get(pre + "dense_h_to_4h.bias"))),
                p.get(pre + "dense_4h_to_h.weight"), p.get(pre + "dense_4h_to_h.bias"));
        float[] original = lastLogits(parallel, batch);
        try (ActivationCache c = parallel.run(manager, batch, ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST).replacingMlp(1, same))) {
            assertThat(maxAbs(c.logits().toFloatArray(), original)).isEqualTo(0.0);
        }
        List<String> keep = List.of(HookNames.residPre(1), HookNames.attnOut(1), HookNames.mlpOut(1), HookNames.residPost(1));
        try (ActivationCache c = parallel.run(manager, batch,
                ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST).keeping(keep).replacingMlp(1, MlpReplacement.zero()))) {
            assertThat(c.get(HookNames.mlpOut(1)).abs().max().getFloat()).isEqualTo(0f);
            NDArray expected = c.get(HookNames.residPre(1)).add(c.get(HookNames.attnOut(1)));
            // parallel residual: resid_post = (x + attn_out) + 0, and adding +0 is exact, so the same bits
            assertThat(c.get(HookNames.residPost(1)).toFloatArray()).isEqualTo(expected.toFloatArray());
            assertThat(maxAbs(c.logits().toFloatArray(), original)).as("zeroing an MLP must change the prediction").isGreaterThan(1e-2);
        }
    }

    @Test
    void editsChangeTheForwardPassDownstream() {
        TokenBatch batch = TokenBatch.rightPadded(SEQS, 0);
        float[] original = lastLogits(parallel, batch);
        try (ActivationCache c = parallel.run(manager, batch, ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST)
                .editing(HookNames.attnPattern(0), x -> x))) {
            assertThat(maxAbs(c.logits().toFloatArray(), original)).isEqualTo(0.0);
        }
        try (ActivationCache c = parallel.run(manager, batch, ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST)
                .keeping(List.of(HookNames.attnOut(0)))
                .editing(HookNames.attnOut(0), NDArray::zerosLike))) {
            assertThat(c.get(HookNames.attnOut(0)).abs().max().getFloat()).isEqualTo(0f);
            assertThat(maxAbs(c.logits().toFloatArray(), original)).isGreaterThan(1e-2);
        }
    }

    @Test
    void layerNormScaleHookGivesTheSameOutputAsTheFusedKernel() {
        TokenBatch batch = TokenBatch.rightPadded(SEQS, 0);
        List<String> normalized = List.of(HookNames.ln1Normalized(0), HookNames.lnFinalNormalized());
        try (ActivationCache fused = parallel.run(manager, batch, ForwardOptions.logitsOnly().keeping(normalized));
                ActivationCache explicit = parallel.run(manager, batch, ForwardOptions.logitsOnly()
                        .keeping(List.of(HookNames.ln1Normalized(0), HookNames.lnFinalNormalized(), HookNames.ln1Scale(0), HookNames.residPre(0), HookNames.lnFinalScale())))) {
            // ln1 of block 0 reads the embeddings, the same bits in both passes, so its two outputs are one LayerNorm
            // in two summation orders (torch's fused moments vs mean, then mean of squares). Over d terms the mean
            // is off by at most gamma_d mean|x| <= gamma_d max|x|; that moves the centred c = x - mean and, through
            // var = mean(c^2) and s = 1 / sqrt(var + eps), s by a relative s gamma_d max|x| (first order); so
            // |dy_i| <= |w_i| s gamma_d max|x| (1 + s |c_i|) plus a few roundings of y's own size, per evaluation.
            // Two evaluations: 2 gamma_{d + 4} max|w| s max|x| (1 + s max|c|) + 2 gamma_4 max|y|, per token.
            // Measured: at most 4.8e-7 at 1 and 2 libtorch threads, bounds 6.9e-5 .. 1.1e-4.
            int d = parallel.config().hiddenSize();
            String ln1 = HookNames.ln1Normalized(0);
            float[] xs = explicit.get(HookNames.residPre(0)).toFloatArray(); // (B, T, C)
            float[] s = explicit.get(HookNames.ln1Scale(0)).toFloatArray(); // (B, T, 1)
            float[] yf = fused.get(ln1).toFloatArray();
            float[] ye = explicit.get(ln1).toFloatArray();
            double maxW = Fp32Bounds.maxAbs(parallel.parameters().get("gpt_neox.layers.0.input_layernorm.weight").toFloatArray());
            for (int row = 0; row < s.length; row++) {
                float[] xr = java.util.Arrays.copyOfRange(xs, row * d, (row + 1) * d);
                double mean = java.util.Arrays.stream(toDoubles(xr)).average().orElseThrow();
                double maxC = java.util.Arrays.stream(toDoubles(xr)).map(xi -> Math.abs(xi - mean)).max().orElseThrow();
                float[] yr = java.util.Arrays.copyOfRange(ye, row * d, (row + 1) * d);
                double bound = Fp32Bounds.twoOrders(d + 4, maxW * s[row] * Fp32Bounds.maxAbs(xr) * (1 + s[row] * maxC))
                        + Fp32Bounds.twoOrders(4, Fp32Bounds.maxAbs(yr));
                double err = maxAbs(java.util.Arrays.copyOfRange(yf, row * d, (row + 1) * d), yr);
                assertThat(err).as("%s at token %d (bound %.2e)", ln1, row, bound).isLessThan(bound);
            }
            // ln_final reads a residual stream that ln1's difference has gone through, and the logits too: whole
            // forward passes, so Fp32Bounds.deep over the forward's chain, scaled by the compared values' size.
            // Measured: 1.25e-6 (ln_final) and 1.67e-6 (logits) at 1 and 2 libtorch threads, bounds 7.8e-4, 8.4e-4.
            String lnf = HookNames.lnFinalNormalized();
            float[] hf = fused.get(lnf).toFloatArray();
            double lnfBound = Fp32Bounds.deep(Fp32Bounds.forwardChain(parallel.config(), batch.seqLen()), Fp32Bounds.maxAbs(hf));
            assertThat(maxAbs(hf, explicit.get(lnf).toFloatArray())).as("%s (bound %.2e)", lnf, lnfBound).isLessThan(lnfBound);
            float[] lf = fused.logits().toFloatArray();
            double logitBound = Fp32Bounds.deep(Fp32Bounds.forwardChain(parallel.config(), batch.seqLen()), Fp32Bounds.maxAbs(lf));
            assertThat(maxAbs(lf, explicit.logits().toFloatArray())).as("logits (bound %.2e)", logitBound).isLessThan(logitBound);
            // scale = 1 / sqrt(var + eps) of the block input, checked in Java doubles for position (0, 0)
            float[] x = explicit.get(HookNames.residPre(0)).get(0, 0).toFloatArray();
            double mean = 0;
            for (float f : x) {
                mean += f;
            }
            mean /= x.length;
            double var = 0;
            for (float f : x) {
                var += (f - mean) * (f - mean);
            }
            var /= x.length;
            assertThat((double) explicit.get(HookNames.ln1Scale(0)).getFloat(0, 0, 0))
                    .isCloseTo(1 / Math.sqrt(var + 1e-5), org.assertj.core.data.Percentage.withPercentage(1e-3));
        }
    }

    @Test
    void gradientOfTheLogitsMatchesFiniteDifferences() {
        String name = "gpt_neox.layers.0.mlp.dense_h_to_4h.weight";
        TokenBatch batch = TokenBatch.leftPadded(SEQS, 0);
        try (GptNeoX gradModel = GptNeoX.load(NeoXFixtures.folder("sequential_rot100"), Device.cpu());
                GptNeoX fdModel = GptNeoX.load(NeoXFixtures.folder("sequential_rot100"), Device.cpu());
                NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Random random = new Random(7);
            long[] shape = {3, batch.seqLen(), gradModel.config().vocabSize()};
            float[] r = new float[(int) (shape[0] * shape[1] * shape[2])];
            for (int i = 0; i < r.length; i++) {
                // padding positions are excluded: their fully masked rows are flat in fp32, so only real tokens
                // have derivatives finite differences can see
                int b = (int) (i / (shape[1] * shape[2]));
                int t = (int) (i / shape[2] % shape[1]);
                r[i] = batch.isReal(b, t) ? (float) random.nextGaussian() : 0f;
            }
            NDArray weights = m.create(r, new ai.djl.ndarray.types.Shape(shape));
            NDArray w = gradModel.parameters().get(name);
            w.setRequiresGradient(true);
            float[] grad;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                    ActivationCache c = gradModel.run(m, batch, ForwardOptions.logitsOnly())) {
                NDArray scalar = c.logits().mul(weights).sum();
                gc.backward(scalar);
                grad = w.getGradient().toFloatArray();
            }
            NDArray fw = fdModel.parameters().get(name);
            int cols = (int) fw.getShape().get(1);
            float eps = 1e-2f;
            for (int[] ij : new int[][] {{0, 0}, {5, 3}, {17, 11}, {100, 31}}) {
                float orig = fw.getFloat(ij[0], ij[1]);
                fw.set(new NDIndex(ij[0], ij[1]), orig + eps);
                double plus = weightedSum(fdModel, m, batch, r);
                fw.set(new NDIndex(ij[0], ij[1]), orig - eps);
                double minus = weightedSum(fdModel, m, batch, r);
                fw.set(new NDIndex(ij[0], ij[1]), orig);
                double fd = (plus - minus) / (2 * eps);
                double g = grad[ij[0] * cols + ij[1]];
                assertThat(g).as("d sum(R*logits) / d %s[%d,%d]: autograd %f vs finite difference %f", name, ij[0], ij[1], g, fd)
                        .isCloseTo(fd, org.assertj.core.data.Offset.offset(2e-2 * Math.abs(fd) + 2e-3));
            }
            assertThat(java.util.Arrays.stream(toDoubles(grad)).map(Math::abs).max().getAsDouble()).isGreaterThan(1e-3);
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static double weightedSum(GptNeoX model, NDManager m, TokenBatch batch, float[] r) {
        try (ActivationCache c = model.run(m, batch, ForwardOptions.logitsOnly())) {
            float[] l = c.logits().toFloatArray();
            double s = 0;
            for (int i = 0; i < l.length; i++) {
                s += (double) l[i] * r[i];
            }
            return s;
        }
    }

    @Test
    void badInputsAreRejectedWithTheirLimits() {
        assertThatThrownBy(() -> parallel.run(manager, TokenBatch.rightPadded(List.of(new long[] {1, 500}), 0), ForwardOptions.logitsOnly()))
                .hasMessageContaining("token id 500").hasMessageContaining("[0, 97)");
        assertThatThrownBy(() -> parallel.run(manager, TokenBatch.rightPadded(List.of(new long[65]), 0), ForwardOptions.logitsOnly()))
                .hasMessageContaining("65 positions").hasMessageContaining("64");
        assertThatThrownBy(() -> parallel.run(manager, TokenBatch.rightPadded(SEQS, 0), ForwardOptions.logitsOnly().replacingMlp(3, MlpReplacement.zero())))
                .hasMessageContaining("block 3").hasMessageContaining("3 blocks");
        assertThatThrownBy(() -> TokenBatch.of(new long[][] {{1, 2}}, new long[][] {{0, 0}})).hasMessageContaining("row 0 has no real token");
    }
}
