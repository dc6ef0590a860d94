package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.cellcircuits.model.Fp32Bounds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TranscoderTrainerTest {

    @TempDir Path tmp;

    @BeforeAll
    static void singleThreaded() {
        TorchThreads.single();
    }

    @AfterAll
    static void restoreThreads() {
        TorchThreads.restore();
    }

    /** 16 true features, 2x expansion, 3000 steps of 256 rows: a few seconds single-threaded. */
    static TranscoderConfig recoveryConfig(boolean sae, int dOut) {
        int steps = 3000;
        return TranscoderConfig.builder().kind(sae ? TranscoderKind.SAE : TranscoderKind.TRANSCODER)
                .modelName("synthetic").layer(0).dIn(16).dOut(dOut).dSae(32)
                .l1Coefficient(0.2).l1WarmUpSteps(300).lr(2e-3).lrWarmUpSteps(50).lrDecaySteps(600)
                .trainingTokens(256L * steps).trainBatchSizeTokens(256).deadFeatureWindow(256L * 200)
                .resampleIntervalSteps(600).scalingBatches(4).build();
    }

    @Test
    void recoversAnExactlySparseLinearTranscoder() {
        checkRecovery(false, 24);
    }

    @Test
    void recoversTheDictionaryInSaeMode() {
        checkRecovery(true, 16);
    }

    /**
     * EV >= 0.99; every true feature's output direction is found by some learned decoder row (cosine >= 0.99);
     * counting a true feature once however many learned copies of it fire, L0 is the true L0 within 10%; features
     * that match no true feature carry under 5% of the activation mass sum_i z_i ||W_dec,i||. The raw L0 sits above
     * the truth because the L1 penalty does not charge for splitting one feature into collinear copies
     * (z_1 ||u|| + z_2 ||u|| = (z_1 + z_2) ||u||) and because weak leftover features are still being pushed to zero
     * when the run ends; it must stay below twice the truth, far from a dense solution (L0 ~ d_sae / 2).
     */
    void checkRecovery(boolean sae, int dOut) {
        SparseLinearData data = new SparseLinearData(16, dOut, 16, 0.2, sae, 256, 11);
        TranscoderConfig c = recoveryConfig(sae, dOut);
        List<String> progress = new ArrayList<>();
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            t.train(data, TrainOptions.logTo(progress::add, "synthetic"));
            List<StepRecord> log = t.log();
            assertThat(log).hasSize(3000);
            double ev = 0;
            double l0 = 0;
            for (StepRecord r : log.subList(2900, 3000)) {
                ev += r.explainedVariance() / 100;
                l0 += r.l0() / 100;
            }
            double trueL0 = data.trueL0();
            assertThat(trueL0).isCloseTo(3.2, within(0.05));
            assertThat(ev).as("explained variance, last 100 steps").isGreaterThanOrEqualTo(0.99);
            assertThat(l0).as("L0 vs true %s", trueL0).isBetween(trueL0, 2 * trueL0);
            assertThat(progress).last().asString().contains("step 3,000 / 3,000 (100.0%)").endsWith("done");

            try (Transcoder model = t.transcoder(); NDManager m = NDManager.newBaseManager()) {
                float[] wDec = model.weight("W_dec").toFloatArray();
                int dSae = c.dSae();
                int[] match = new int[dSae]; // learned feature -> true feature, or -1
                for (int k = 0; k < 16; k++) {
                    double best = -1;
                    for (int i = 0; i < dSae; i++) {
                        double cos = cosine(wDec, i * dOut, trueDirection(data, k), dOut);
                        best = Math.max(best, cos);
                    }
                    assertThat(best).as("true feature %d best decoder cosine", k).isGreaterThanOrEqualTo(0.99);
                }
                for (int i = 0; i < dSae; i++) {
                    match[i] = -1;
                    for (int k = 0; k < 16; k++) {
                        if (cosine(wDec, i * dOut, trueDirection(data, k), dOut) > 0.95) {
                            match[i] = k;
                        }
                    }
                }
                double[] decoderNorm = new double[dSae];
                for (int i = 0; i < dSae; i++) {
                    decoderNorm[i] = Math.sqrt(cosineNormSq(wDec, i * dOut, dOut));
                }
                TrainingBatch b = data.next(m);
                float[] z = model.encode(b.input()).toFloatArray();
                double grouped = 0;
                double unmatchedMass = 0;
                double mass = 0;
                for (int row = 0; row < 256; row++) {
                    boolean[] seen = new boolean[16];
                    for (int i = 0; i < dSae; i++) {
                        double zi = z[row * dSae + i];
                        if (zi > 0) {
                            mass += zi * decoderNorm[i];
                            if (match[i] < 0) {
                                unmatchedMass += zi * decoderNorm[i];
                            } else if (!seen[match[i]]) {
                                seen[match[i]] = true;
                                grouped++;
                            }
                        }
                    }
                }
                assertThat(grouped / 256).as("L0 counting copies of a true feature once").isCloseTo(trueL0,
                        within(0.1 * trueL0));
                assertThat(unmatchedMass / mass).as("share of activation mass on features matching no true feature")
                        .isLessThan(0.05);
            }
        }
    }

    static double[] trueDirection(SparseLinearData data, int k) {
        double[] v = new double[data.dOut];
        for (int j = 0; j < data.dOut; j++) {
            v[j] = data.autoencoder ? data.a[j * data.features + k] : data.d[k * data.dOut + j];
        }
        return v;
    }

    static double cosineNormSq(float[] a, int offset, int n) {
        double s = 0;
        for (int j = 0; j < n; j++) {
            s += a[offset + j] * a[offset + j];
        }
        return s;
    }

    static double cosine(float[] a, int offset, double[] b, int n) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int j = 0; j < n; j++) {
            dot += a[offset + j] * b[j];
            na += a[offset + j] * a[offset + j];
            nb += b[j] * b[j];
        }
        return dot / Math.sqrt(na * nb + 1e-30);
    }

    static TranscoderConfig smallConfig() {
        return TranscoderConfig.builder().modelName("synthetic").layer(2).dIn(16).dOut(12).dSae(24)
                .l1Coefficient(0.1).l1WarmUpSteps(5).lr(3e-3).lrWarmUpSteps(3).lrDecaySteps(10)
                .trainingTokens(64L * 60).trainBatchSizeTokens(64).deadFeatureWindow(64L * 4)
                .resampleIntervalSteps(25).scalingBatches(2).seed(5).build();
    }

    @Test
    void stepIsApplyOfGradientsAndHalvesAddUpToTheWholeBatch() {
        TranscoderConfig c = smallConfig().toBuilder().inputScale(1.3).targetScale(0.7).build();
        SparseLinearData d1 = new SparseLinearData(16, 12, 8, 0.3, false, 64, 3);
        SparseLinearData d2 = new SparseLinearData(16, 12, 8, 0.3, false, 64, 3);
        try (TranscoderTrainer a = TranscoderTrainer.create(c, Device.cpu());
                TranscoderTrainer b = TranscoderTrainer.create(c, Device.cpu());
                NDManager m = NDManager.newBaseManager()) {
            for (int s = 0; s < 20; s++) {
                TrainingBatch ba = d1.next(m);
                TrainingBatch bb = d2.next(m);
                StepRecord ra = a.step(ba);
                StepRecord rb = b.apply(b.gradients(bb));
                assertThat(rb).isEqualTo(ra);
            }
            for (String name : Transcoder.PARAMETER_NAMES) {
                assertThat(b.parameter(name).toFloatArray()).as(name).containsExactly(a.parameter(name).toFloatArray());
            }
            // Data parallelism: gradients of the two halves of a batch add up to the gradient of the whole.
            TrainingBatch whole = d1.next(m);
            TrainingBatch first = new TrainingBatch(whole.input().get("0:40"), whole.target().get("0:40"));
            TrainingBatch second = new TrainingBatch(whole.input().get("40:"), whole.target().get("40:"));
            Gradients full = a.gradients(whole);
            Gradients sum = a.gradients(first).plus(a.gradients(second));
            assertThat(sum.tokens()).isEqualTo(64);
            assertThat(sum.featureFires()).containsExactly(full.featureFires());
            float[] fv = full.values();
            float[] sv = sum.values();
            double scale = 0;
            for (float v : fv) {
                scale = Math.max(scale, Math.abs(v));
            }
            // Each gradient is a deep composition per row (encode d_in + 1, decode d_sae + 1, the error, the backward
            // through the decoder d_out, the penalty's add) and then a sum over the 64 rows, cut 40 + 24 and added
            // once more: Fp32Bounds.deep(d_in + d_sae + d_out + 64 + 5, max|gradient|). Measured max |difference| at
            // 1 and 2 libtorch threads: 3.8e-6 of max |gradient| 44, against 6.4e-4 (was 1e-5 scale).
            int rows = 64;
            double gradBound = Fp32Bounds.deep(16 + 24 + 12 + rows + 5, scale);
            for (int i = 0; i < fv.length; i++) {
                assertThat((double) sv[i]).as("gradient %d", i).isCloseTo(fv[i], within(gradBound));
            }
            // sse is an fp32 sum of N = 64 x 12 squares (rigorous: twoOrders(N + 1, sse), its terms being >= 0) of
            // errors e = y - t that the two forwards may round differently, by de = Fp32Bounds.deep(d_in + d_sae + 3,
            // max|y|), max|y| <= max|t| + sqrt(sse); so |d sse| <= twoOrders(N + 1, sse) + 2 sqrt(N sse) de + N de^2
            // (Cauchy-Schwarz on sum|e|). M2 = sum (t - mean)^2 directly against Chan's pairwise formula: each within
            // gamma_{N + 3} M2 of exact, plus what the fp32 means' errors dm = oneOrder(64 + 1, max|t|) move them by:
            // only dm^2 per term in a direct sum (sum (t - mean) = 0), and Chan's delta^2 n_a n_b / n term, |delta| <=
            // 2 max|t|, by (n_a n_b / n) (8 max|t| dm + 4 dm^2) per column: N (2 max|t| + 3 dm) dm in all.
            // EV = 1 - sse / M2 moves by (|d sse| + (1 - EV) |d M2|) / M2.
            // Measured max |difference| at 1 and 2 libtorch threads: mse 0 (mse 0.88, bound 3.9e-4), EV 4.4e-8
            // of bound 8.4e-4 (were 1e-6 relative and 1e-6).
            BatchStats st = full.stats();
            int dOut = 12;
            int n = rows * dOut;
            double maxT = 0;
            for (float v : whole.target().toFloatArray()) {
                maxT = Math.max(maxT, Math.abs(v) * c.targetScale());
            }
            double de = Fp32Bounds.deep(16 + 24 + 3, maxT + Math.sqrt(st.sse()));
            double dSse = Fp32Bounds.twoOrders(n + 1, st.sse()) + 2 * Math.sqrt(n * st.sse()) * de + n * de * de;
            double dm = Fp32Bounds.oneOrder(rows + 1, maxT);
            double dM2 = Fp32Bounds.twoOrders(n + 3, st.targetM2()) + n * (2 * maxT + 3 * dm) * dm;
            double evBound = (dSse + (1 - st.explainedVariance()) * dM2) / st.targetM2();
            assertThat(sum.stats().explainedVariance()).isCloseTo(st.explainedVariance(), within(evBound));
            assertThat(sum.stats().mse()).isCloseTo(st.mse(), within(dSse / rows));
            assertThat(sum.stats().l0()).isEqualTo(full.stats().l0());
            Gradients stale = new Gradients(3, full.l1Coefficient(), full.values(), full.featureFires(), full.stats());
            assertThatThrownBy(() -> a.apply(stale))
                    .hasMessageContaining("gradients were computed at step 3; the trainer is at step 20");
        }
    }

    @Test
    void aResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne() {
        // Resampling is due after step 25, between the checkpoint at 20 and the end at 60, so the RNG state, the
        // dead-feature counters and the Adam moments all have to come back exactly; scaling is estimated, so the
        // stream position has to as well.
        TranscoderConfig c = smallConfig();
        Path whole = tmp.resolve("whole");
        Path killed = tmp.resolve("killed");
        TrainOptions options = TrainOptions.logTo(s -> { }, "resume test");
        float[][] expected = new float[4][];
        List<StepRecord> expectedLog;
        float[] expectedMoment;
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 21), options.withCheckpoints(whole, 20));
            for (int i = 0; i < 4; i++) {
                expected[i] = t.parameter(Transcoder.PARAMETER_NAMES.get(i)).toFloatArray();
            }
            expectedLog = t.log();
            expectedMoment = t.adam().secondMoment(2).toFloatArray();
            assertThat(expectedLog.stream().mapToInt(StepRecord::resampled).sum()).as("features resampled").isPositive();
        }
        assertThat(TrainerCheckpoint.latest(whole)).contains(whole.resolve("step=60"));
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 21), options.withCheckpoints(killed, 20)
                    .stoppingAfter(33)); // "killed" at step 33: the last checkpoint is step=20
        }
        Path last = TrainerCheckpoint.latest(killed).orElseThrow();
        assertThat(last.getFileName().toString()).isEqualTo("step=20");
        try (TranscoderTrainer t = TranscoderTrainer.resume(last, c, Device.cpu())) {
            assertThat(t.step()).isEqualTo(20);
            assertThat(t.log()).isEqualTo(expectedLog.subList(0, 20));
            t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 21), options.withCheckpoints(killed, 20));
            for (int i = 0; i < 4; i++) {
                assertThat(t.parameter(Transcoder.PARAMETER_NAMES.get(i)).toFloatArray())
                        .as(Transcoder.PARAMETER_NAMES.get(i)).containsExactly(expected[i]);
            }
            assertThat(t.adam().secondMoment(2).toFloatArray()).containsExactly(expectedMoment);
            assertThat(t.log()).isEqualTo(expectedLog);
        }
    }

    @Test
    void resumingWithAnotherConfigIsRefusedNamingTheDifferences() {
        TranscoderConfig c = smallConfig();
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 1),
                    TrainOptions.logTo(s -> { }, "x").withCheckpoints(tmp, 5).stoppingAfter(5));
        }
        TranscoderConfig other = c.toBuilder().l1Coefficient(0.3).seed(6).build();
        assertThatThrownBy(() -> TranscoderTrainer.resume(tmp.resolve("step=5"), other, Device.cpu()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("was written by another training config")
                .hasMessageContaining("l1_coefficient: 0.1 -> 0.3")
                .hasMessageContaining("seed: 5 -> 6");
        assertThatThrownBy(() -> TranscoderTrainer.resume(tmp.resolve("nowhere"), c, Device.cpu()))
                .hasMessageContaining("is not a complete checkpoint");
        assertThat(TrainerCheckpoint.config(tmp.resolve("step=5"))).isEqualTo(c);
        try (TranscoderTrainer t = TranscoderTrainer.resume(tmp.resolve("step=5"), Device.cpu())) {
            assertThat(t.step()).isEqualTo(5);
            assertThat(t.config()).isEqualTo(c);
        }
    }

    @Test
    void aNanInABatchStopsTrainingNamingTheRowAndColumn() {
        TranscoderConfig c = smallConfig();
        SparseLinearData data = new SparseLinearData(16, 12, 8, 0.3, false, 64, 2);
        data.nanAtRow = 64 * 5 + 17; // batch 5: after the 2 scaling batches, at step 3
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            assertThatThrownBy(() -> t.train(data, TrainOptions.logTo(s -> { }, "x")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("mlp_in (blocks.2.ln2.hook_normalized) is NaN at synthetic row 337, column 2")
                    .hasMessageContaining("at step 3");
            assertThat(t.step()).as("no update from the bad batch").isEqualTo(3);
        }
        SparseLinearData early = new SparseLinearData(16, 12, 8, 0.3, false, 64, 2);
        early.nanAtRow = 70;
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            assertThatThrownBy(() -> t.train(early, TrainOptions.logTo(s -> { }, "x")))
                    .hasMessageContaining("is NaN at synthetic row 70, column 2 while estimating the scaling factors");
        }
    }

    @Test
    void batchesOfAnotherWidthAreRefused() {
        TranscoderConfig c = smallConfig();
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            assertThatThrownBy(() -> t.train(new SparseLinearData(8, 12, 8, 0.3, false, 64, 2),
                    TrainOptions.logTo(s -> { }, "x")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("has mlp_in width 8; layer 2's config has d_in 16");
            t.setScaling(new ActivationScaling(1, 1, false));
            try (NDManager m = NDManager.newBaseManager()) {
                TrainingBatch wrongTarget = new SparseLinearData(16, 10, 8, 0.3, false, 64, 2).next(m);
                assertThatThrownBy(() -> t.gradients(wrongTarget))
                        .hasMessageContaining("has target width 10; layer 2's config has d_out 12");
            }
        }
    }

    @Test
    void runningOutOfDataBeforeTheRunEndsIsAnError() {
        TranscoderConfig c = smallConfig();
        float[] x = new float[16 * 64 * 10];
        float[] y = new float[12 * 64 * 10];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) r.nextGaussian();
        }
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            assertThatThrownBy(() -> t.train(new ArrayBatches(x, y, 16, 12, 64, false, "ten batches"),
                    TrainOptions.logTo(s -> { }, "x")))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("ran out after 640 rows, at step 8 of 60");
        }
    }

    @Test
    void divergenceIsReportedAsSuchNotAsBadData() {
        TranscoderConfig c = smallConfig().toBuilder().lr(1e12).lrEnd(0).lrWarmUpSteps(0).lrDecaySteps(0).build();
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            assertThatThrownBy(() -> t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 2),
                    TrainOptions.logTo(s -> { }, "x")))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("although every activation of the batch is finite: training diverged");
        }
    }

    @Test
    void trainersWithTheSameSeedStartIdenticalAndDifferentSeedsDiffer() {
        TranscoderConfig c = smallConfig();
        try (TranscoderTrainer a = TranscoderTrainer.create(c, Device.cpu());
                TranscoderTrainer b = TranscoderTrainer.create(c, Device.cpu());
                TranscoderTrainer other = TranscoderTrainer.create(c.toBuilder().seed(6).build(), Device.cpu())) {
            assertThat(a.parameter("W_enc").toFloatArray()).containsExactly(b.parameter("W_enc").toFloatArray());
            assertThat(a.parameter("W_dec").toFloatArray()).isNotEqualTo(other.parameter("W_dec").toFloatArray());
            // init: decoder rows of norm decoder-init-norm, zero biases
            NDArray rowNorms = a.parameter("W_dec").norm(new int[] {1});
            for (float n : rowNorms.toFloatArray()) {
                assertThat((double) n).isCloseTo(0.1, within(1e-6));
            }
            assertThat(a.parameter("b_enc").toFloatArray()).containsOnly(0f);
        }
    }
}
