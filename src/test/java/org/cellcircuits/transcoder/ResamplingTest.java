package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Dead-feature detection and resampling on a crafted case: feature 5's bias is set so low it can never fire. */
class ResamplingTest {

    static final int D_IN = 16;
    static final int D_OUT = 12;
    static final int D_SAE = 8;
    static final int ROWS = 64;
    static final int PLANTED_ROW = 7;

    @BeforeAll
    static void singleThreaded() {
        TorchThreads.single();
    }

    @AfterAll
    static void restoreThreads() {
        TorchThreads.restore();
    }

    static TranscoderConfig config() {
        return TranscoderConfig.builder().modelName("synthetic").layer(1).dIn(D_IN).dOut(D_OUT).dSae(D_SAE)
                .l1Coefficient(0.05).l1WarmUpSteps(0).lr(1e-3).lrWarmUpSteps(0).lrDecaySteps(0)
                .trainingTokens(ROWS * 20L).trainBatchSizeTokens(ROWS).deadFeatureWindow(ROWS * 3L)
                .resampleIntervalSteps(4).inputScale(1.0).targetScale(1.0).seed(9).build();
    }

    @Test
    void deadFeaturesAreCountedInTokensSinceTheyLastFired() {
        DeadFeatures d = new DeadFeatures(3, 100);
        d.record(new long[] {1, 0, 0}, 60);
        assertThat(d.dead()).isEmpty();
        d.record(new long[] {0, 5, 0}, 40); // feature 2: 100 tokens without firing
        assertThat(d.dead()).containsExactly(2);
        assertThat(d.deadFraction()).isCloseTo(1.0 / 3, within(1e-12));
        d.record(new long[] {0, 0, 0}, 60); // feature 0: 100; feature 1: 60
        assertThat(d.dead()).containsExactly(0, 2);
        d.revive(new int[] {2});
        assertThat(d.dead()).containsExactly(0);
        DeadFeatures copy = new DeadFeatures(3, 100);
        copy.restore(d.state());
        assertThat(copy.dead()).containsExactly(0);
    }

    @Test
    void aFeatureThatNeverFiresIsResampledTowardTheWorstReconstructedRowAndItsAdamStateIsReset() {
        SparseLinearData data = new SparseLinearData(D_IN, D_OUT, 8, 0.3, false, ROWS, 4);
        try (TranscoderTrainer t = TranscoderTrainer.create(config(), Device.cpu());
                NDManager m = NDManager.newBaseManager()) {
            float[] bEnc = t.parameter("b_enc").toFloatArray();
            bEnc[5] = -1000f;
            t.parameter("b_enc").set(bEnc);

            long[] fired = new long[D_SAE];
            for (int s = 0; s < 4; s++) {
                Gradients g = t.gradients(data.next(m));
                for (int i = 0; i < D_SAE; i++) {
                    fired[i] += s >= 1 ? g.featureFires()[i] : 0; // the window covers the last 3 steps
                }
                t.apply(g);
            }
            assertThat(fired[5]).isZero();
            int[] expectedDead = java.util.stream.IntStream.range(0, D_SAE).filter(i -> fired[i] == 0).toArray();
            assertThat(t.deadFeatures()).containsExactly(expectedDead).contains(5);
            assertThat(t.resampleDue()).as("after step 4 of 20 with interval 4").isTrue();

            // A batch that the current transcoder reconstructs exactly, except row 7 whose target is pushed along
            // a planted direction: every resampling draw has to land on row 7.
            TrainingBatch plain = data.next(m);
            float[] x = plain.input().toFloatArray();
            float[] t0;
            float[][] before = new float[4][];
            try (Transcoder snapshot = t.transcoder()) {
                t0 = snapshot.forward(plain.input()).toFloatArray();
                for (int k = 0; k < 4; k++) {
                    before[k] = snapshot.weight(Transcoder.PARAMETER_NAMES.get(k)).toFloatArray();
                }
            }
            double[] planted = new double[D_OUT];
            for (int j = 0; j < D_OUT; j++) {
                planted[j] = Math.sin(j + 1.0);
                t0[PLANTED_ROW * D_OUT + j] += (float) (5 * planted[j]);
            }
            TrainingBatch crafted = new TrainingBatch(plain.input(), m.create(t0, new Shape(ROWS, D_OUT)));

            int n = t.resampleDeadFeatures(crafted);
            assertThat(n).isEqualTo(expectedDead.length);
            assertThat(t.deadFeatures()).isEmpty();

            float[] wEnc = t.parameter("W_enc").toFloatArray();
            float[] wDec = t.parameter("W_dec").toFloatArray();
            float[] bEncAfter = t.parameter("b_enc").toFloatArray();
            boolean[] isDead = new boolean[D_SAE];
            for (int i : expectedDead) {
                isDead[i] = true;
            }
            double aliveEnc = 0;
            double aliveDec = 0;
            int alive = 0;
            for (int i = 0; i < D_SAE; i++) {
                if (!isDead[i]) {
                    aliveEnc += Math.sqrt(columnNormSq(wEnc, i));
                    aliveDec += Math.sqrt(rowNormSq(wDec, i));
                    alive++;
                    for (int j = 0; j < D_IN; j++) {
                        assertThat(wEnc[j * D_SAE + i]).as("living feature %d untouched", i)
                                .isEqualTo(before[0][j * D_SAE + i]);
                    }
                }
            }
            aliveEnc /= alive;
            aliveDec /= alive;
            double[] row7 = new double[D_IN];
            for (int j = 0; j < D_IN; j++) {
                row7[j] = x[PLANTED_ROW * D_IN + j];
            }
            for (int i : expectedDead) {
                double[] col = new double[D_IN];
                for (int j = 0; j < D_IN; j++) {
                    col[j] = wEnc[j * D_SAE + i];
                }
                double[] dec = new double[D_OUT];
                for (int j = 0; j < D_OUT; j++) {
                    dec[j] = wDec[i * D_OUT + j];
                }
                assertThat(cos(col, row7)).as("encoder of %d points at row 7's input", i).isCloseTo(1, within(1e-6));
                assertThat(Math.sqrt(columnNormSq(wEnc, i))).isCloseTo(0.2 * aliveEnc, within(1e-6));
                assertThat(cos(dec, planted)).as("decoder of %d points along row 7's error", i)
                        .isCloseTo(1, within(1e-5));
                assertThat(Math.sqrt(rowNormSq(wDec, i))).isCloseTo(aliveDec, within(1e-6));
                assertThat(bEncAfter[i]).isZero();
            }

            float[][] moments = {t.adam().firstMoment(0).toFloatArray(), t.adam().secondMoment(0).toFloatArray(),
                t.adam().firstMoment(1).toFloatArray(), t.adam().secondMoment(1).toFloatArray(),
                t.adam().firstMoment(2).toFloatArray(), t.adam().secondMoment(2).toFloatArray()};
            for (int i = 0; i < D_SAE; i++) {
                double encMoment = 0;
                for (int j = 0; j < D_IN; j++) {
                    encMoment += Math.abs(moments[0][j * D_SAE + i]) + Math.abs(moments[1][j * D_SAE + i]);
                }
                double decMoment = 0;
                for (int j = 0; j < D_OUT; j++) {
                    decMoment += Math.abs(moments[4][i * D_OUT + j]) + Math.abs(moments[5][i * D_OUT + j]);
                }
                double biasMoment = Math.abs(moments[2][i]) + Math.abs(moments[3][i]);
                if (isDead[i]) {
                    assertThat(encMoment + decMoment + biasMoment).as("Adam state of resampled %d", i).isZero();
                } else {
                    assertThat(decMoment).as("Adam state of living %d", i).isPositive();
                }
            }

            try (Transcoder after = t.transcoder()) {
                NDArray z = after.encode(plain.input().get(PLANTED_ROW + ":" + (PLANTED_ROW + 1)));
                assertThat(z.toFloatArray()[5]).as("feature 5 now fires on row 7").isPositive();
            }
        }
    }

    @Test
    void stepResamplesWhenDueAndLogsHowMany() {
        SparseLinearData a = new SparseLinearData(D_IN, D_OUT, 8, 0.3, false, ROWS, 4);
        try (TranscoderTrainer t = TranscoderTrainer.create(config(), Device.cpu());
                NDManager m = NDManager.newBaseManager()) {
            float[] bEnc = t.parameter("b_enc").toFloatArray();
            bEnc[5] = -1000f;
            t.parameter("b_enc").set(bEnc);
            int[] resampled = new int[20];
            for (int s = 0; s < 20; s++) {
                resampled[s] = t.step(a.next(m)).resampled();
            }
            // due only after steps 4, 8, 12 and 16 (indices 3, 7, 11, 15); not after 20: no interval would remain
            java.util.Set<Integer> due = java.util.Set.of(3, 7, 11, 15);
            for (int s = 0; s < 20; s++) {
                if (!due.contains(s)) {
                    assertThat(resampled[s]).as("step %d", s).isZero();
                }
            }
            assertThat(resampled[3]).as("feature 5 dead by step 4").isPositive();
            assertThat(t.log().get(3).resampled()).isEqualTo(resampled[3]);
            assertThat(Arrays.stream(resampled).sum()).isEqualTo(t.log().stream().mapToInt(StepRecord::resampled).sum());
        }
    }

    static double columnNormSq(float[] w, int i) {
        double s = 0;
        for (int j = 0; j < D_IN; j++) {
            s += (double) w[j * D_SAE + i] * w[j * D_SAE + i];
        }
        return s;
    }

    static double rowNormSq(float[] w, int i) {
        double s = 0;
        for (int j = 0; j < D_OUT; j++) {
            s += (double) w[i * D_OUT + j] * w[i * D_OUT + j];
        }
        return s;
    }

    static double cos(double[] a, double[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int j = 0; j < a.length; j++) {
            dot += a[j] * b[j];
            na += a[j] * a[j];
            nb += b[j] * b[j];
        }
        return dot / Math.sqrt(na * nb);
    }
}
