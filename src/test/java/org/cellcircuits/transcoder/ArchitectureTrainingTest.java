package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The trainer with each activation and with a skip connection: it learns a sparse linear transcoder (16 true features,
 * 3.2 active a row), keeps each activation's promises (TopK: exactly k a token and unit-norm decoder rows; BatchTopK:
 * a threshold that keeps about k a token once saved as JumpReLU; JumpReLU: fewer features the larger the L0
 * coefficient), resumes bit for bit, and a data-parallel replica given the driver's dead features computes the same
 * gradients (AuxK included).
 */
class ArchitectureTrainingTest {

    @TempDir Path tmp;

    @BeforeAll
    static void singleThreaded() {
        TorchThreads.single();
    }

    @AfterAll
    static void restoreThreads() {
        TorchThreads.restore();
    }

    /** Rows hold Binomial(16, 0.2) true features: more than 6 in 2% of rows, so k = 6 can fit nearly all. */
    static final int K = 6;

    /** 1500 steps of 256 rows, 2x expansion: a few seconds single-threaded. */
    static TranscoderConfig config(Activation a, boolean skip, double l0Coefficient) {
        int steps = 1500;
        return TranscoderConfig.builder().modelName("synthetic").layer(0).dIn(16).dOut(24).dSae(32)
                // JumpReLU's thresholds start at 0.1, near where they end: a log-threshold moves about lr a step under
                // Adam, so 1500 steps could not carry SAELens's 0.01 to the scale of this data's pre-activations.
                .architecture(new TranscoderArchitecture(a, K, 1.0 / 32, l0Coefficient, 0.1, 0.1, 0.01, skip))
                .l1Coefficient(0.2).l1WarmUpSteps(150).lr(2e-3).lrWarmUpSteps(50).lrDecaySteps(300)
                .trainingTokens(256L * steps).trainBatchSizeTokens(256).deadFeatureWindow(256L * 100)
                .resampleDeadFeatures(false).scalingBatches(4).build();
    }

    static List<Arguments> architectures() {
        return List.of(Arguments.of(Activation.TOPK, false), Arguments.of(Activation.TOPK, true),
                Arguments.of(Activation.BATCHTOPK, false), Arguments.of(Activation.JUMPRELU, false),
                Arguments.of(Activation.JUMPRELU, true), Arguments.of(Activation.RELU, true));
    }

    @ParameterizedTest(name = "{0}, skip {1}")
    @MethodSource("architectures")
    void learnsTheSparseTranscoderAndKeepsTheActivationsPromises(Activation a, boolean skip) {
        SparseLinearData data = new SparseLinearData(16, 24, 16, 0.2, false, 256, 11);
        TranscoderConfig c = config(a, skip, 1.0);
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            t.train(data, TrainOptions.logTo(s -> { }, "synthetic"));
            List<StepRecord> log = t.log();
            double ev = 0;
            double l0 = 0;
            for (StepRecord r : log.subList(log.size() - 100, log.size())) {
                ev += r.explainedVariance() / 100;
                l0 += r.l0() / 100;
            }
            // The data is exactly sparse-linear with 3.2 of 16 directions a row: every architecture can fit it.
            assertThat(ev).as("explained variance, last 100 steps").isGreaterThanOrEqualTo(0.95);
            if (a == Activation.TOPK) {
                // k a token, less only on the rare token with fewer than k positive pre-activations
                assertThat(l0).as("topk L0").isBetween(K - 0.1, (double) K);
            } else {
                assertThat(l0).as("L0 of a sparse code, far below d_sae / 2").isBetween(1.0, 12.0);
            }
            if (c.architecture().unitNormDecoder()) {
                float[] wDec = t.parameter("W_dec").toFloatArray();
                for (int i = 0; i < c.dSae(); i++) {
                    assertThat(Math.sqrt(TranscoderTrainerTest.cosineNormSq(wDec, i * c.dOut(), c.dOut())))
                            .as("decoder row %d norm", i).isCloseTo(1.0, within(1e-5));
                }
            }
            if (skip) {
                assertThat(max(t.parameter(Transcoder.W_SKIP).toFloatArray())).as("W_skip moved from its zero init")
                        .isGreaterThan(1e-3);
            }
            if (a == Activation.BATCHTOPK) {
                assertThat(t.batchThreshold()).as("running threshold").isPositive();
            }
            Path dir = tmp.resolve(a + "-" + skip);
            t.save(dir);
            try (Transcoder loaded = Transcoder.load(dir, Device.cpu()); NDManager m = NDManager.newBaseManager()) {
                assertThat(loaded.activation()).isEqualTo(a.atInference());
                assertThat(loaded.hasSkip()).isEqualTo(skip);
                TrainingBatch b = data.next(m);
                NDArray z = loaded.encode(b.input());
                double active = z.neq(0f).sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble() / 256;
                if (a == Activation.BATCHTOPK) {
                    // The saved threshold is the running mean of the smallest survivor of batches of k x 256, so on a
                    // fresh batch it keeps about k a token; the spread of the smallest survivor sets the band.
                    assertThat(active).as("batchtopk saved as jumprelu: features a token").isBetween(0.5 * K, 2.0 * K);
                }
                NDArray y = loaded.forward(b.input());
                double sse = y.sub(b.target()).square().sum().getFloat();
                double m2 = b.target().sub(b.target().mean(new int[] {0})).square().sum().getFloat();
                assertThat(1 - sse / m2).as("loaded transcoder's explained variance on a fresh batch")
                        .isGreaterThanOrEqualTo(0.9);
            }
        }
    }

    @Test
    void aLargerL0CoefficientGivesAJumpReluTranscoderFewerActiveFeatures() {
        double[] l0 = new double[2];
        double[] coefficients = {0.01, 1.0};
        for (int i = 0; i < 2; i++) {
            TranscoderConfig c = config(Activation.JUMPRELU, false, coefficients[i]);
            try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
                t.train(new SparseLinearData(16, 24, 16, 0.2, false, 256, 11), TrainOptions.logTo(s -> { }, "l0"));
                List<StepRecord> log = t.log();
                l0[i] = log.subList(log.size() - 100, log.size()).stream().mapToDouble(StepRecord::l0).average()
                        .orElseThrow();
                float[] logTh = t.parameter(TranscoderTrainer.LOG_THRESHOLD).toFloatArray();
                assertThat(max(minus(logTh, (float) Math.log(c.architecture().thresholdInit()))))
                        .as("thresholds moved from their init").isGreaterThan(0.1);
            }
        }
        assertThat(l0[1]).as("L0 with coefficient 1 vs 0.01 (%s)", l0[0]).isLessThan(0.8 * l0[0]);
    }

    static List<Arguments> resumable() {
        return List.of(Arguments.of(Activation.TOPK, true), Arguments.of(Activation.BATCHTOPK, false),
                Arguments.of(Activation.JUMPRELU, true));
    }

    @ParameterizedTest(name = "{0}, skip {1}")
    @MethodSource("resumable")
    void aResumedRunEndsWithTheSameWeightsThresholdAndLog(Activation a, boolean skip) {
        // Resampling after step 25 and a 4-step dead window make the AuxK mask, the resampled thresholds and the RNG
        // all matter between the checkpoint at 20 and the end at 60.
        TranscoderConfig c = TranscoderTrainerTest.smallConfig().toBuilder().activation(a).k(3).skipConnection(skip)
                .l0Coefficient(0.5).build();
        List<String> names = TranscoderTrainer.trainableNames(c);
        TrainOptions options = TrainOptions.logTo(s -> { }, "resume");
        List<float[]> expected = new ArrayList<>();
        List<StepRecord> expectedLog;
        double expectedThreshold;
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 21), options.withCheckpoints(tmp.resolve("w"), 20));
            for (String n : names) {
                expected.add(t.parameter(n).toFloatArray());
            }
            expectedLog = t.log();
            expectedThreshold = t.batchThreshold();
        }
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu())) {
            t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 21),
                    options.withCheckpoints(tmp.resolve("k"), 20).stoppingAfter(33));
        }
        Path last = TrainerCheckpoint.latest(tmp.resolve("k")).orElseThrow();
        try (TranscoderTrainer t = TranscoderTrainer.resume(last, c, Device.cpu())) {
            t.train(new SparseLinearData(16, 12, 8, 0.3, false, 64, 21), options.withCheckpoints(tmp.resolve("k"), 20));
            for (int i = 0; i < names.size(); i++) {
                assertThat(t.parameter(names.get(i)).toFloatArray()).as(names.get(i)).containsExactly(expected.get(i));
            }
            assertThat(t.log()).isEqualTo(expectedLog);
            assertThat(Double.valueOf(t.batchThreshold())).isEqualTo(Double.valueOf(expectedThreshold)); // NaN = NaN
        }
        if (a == Activation.BATCHTOPK) {
            assertThat(expectedThreshold).isPositive();
        }
    }

    @Test
    void aReplicaGivenTheDriversDeadFeaturesComputesTheDriversGradientsAuxKIncluded() {
        TranscoderConfig c = TranscoderTrainerTest.smallConfig().toBuilder().activation(Activation.TOPK).k(2)
                .resampleDeadFeatures(false).inputScale(1.1).targetScale(0.9).build();
        SparseLinearData data = new SparseLinearData(16, 12, 8, 0.3, false, 64, 5);
        try (TranscoderTrainer driver = TranscoderTrainer.create(c, Device.cpu());
                NDManager m = NDManager.newBaseManager()) {
            for (int s = 0; s < 12; s++) {
                driver.step(data.next(m));
            }
            assertThat(driver.deadFeatures()).as("features dead after 12 steps with k = 2 of 24").isNotEmpty();
            TrainingBatch b = data.next(m);
            Gradients expected = driver.gradients(b);
            assertThat(expected.stats().auxSum()).as("AuxK is live").isPositive();
            try (TranscoderTrainer replica = TranscoderTrainer.replica(c, driver.scaling(), Device.cpu())) {
                replica.syncTo(driver.step(), driver.flatWeights(), driver.deadFeatures());
                assertThat(replica.gradients(b)).isEqualTo(expected);
                replica.syncTo(driver.step(), driver.flatWeights());
                assertThat(replica.gradients(b).values()).as("without the dead features there is no AuxK")
                        .isNotEqualTo(expected.values());
            }
        }
    }

    static double max(float[] v) {
        double m = 0;
        for (float x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }

    static float[] minus(float[] v, float c) {
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] -= c;
        }
        return out;
    }
}
