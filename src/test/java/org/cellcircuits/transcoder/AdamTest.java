package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdamTest {

    static final double B1 = 0.9;
    static final double B2 = 0.999;
    static final double EPS = 1e-8;

    @Test
    void firstStepMovesEachWeightByLrAgainstItsGradientsSign() {
        // t = 1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps), whatever the size of g.
        float[] p0 = {0.5f, -1.0f, 2.0f, 0.0f};
        float[] g = {3.0f, -0.002f, 1e-3f, -40f};
        double lr = 0.01;
        try (NDManager m = NDManager.newBaseManager(Device.cpu()); Adam adam = adam(m, 4)) {
            NDArray p = m.create(p0);
            adam.update(List.of(p), List.of(m.create(g)), lr);
            float[] after = p.toFloatArray();
            for (int i = 0; i < 4; i++) {
                double expected = p0[i] - lr * g[i] / (Math.abs(g[i]) + EPS);
                assertThat((double) after[i]).isCloseTo(expected, within(1e-6));
            }
            assertThat(adam.step()).isEqualTo(1);
        }
    }

    @Test
    void threeStepsMatchTheBiasCorrectedUpdateWorkedOutInDoubles() {
        float[] p0 = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f};
        float[][] grads = {{1f, -2f, 0.5f, 0f, 3f, -1f}, {-0.5f, -1f, 0.5f, 2f, 1f, 0.25f}, {0.1f, 0f, -4f, 1f, -3f, 2f}};
        double[] lrs = {1e-2, 5e-3, 2e-3};
        double[] p = new double[6];
        double[] mom = new double[6];
        double[] vel = new double[6];
        for (int i = 0; i < 6; i++) {
            p[i] = p0[i];
        }
        for (int t = 1; t <= 3; t++) {
            for (int i = 0; i < 6; i++) {
                double gi = grads[t - 1][i];
                mom[i] = B1 * mom[i] + (1 - B1) * gi;
                vel[i] = B2 * vel[i] + (1 - B2) * gi * gi;
                double mHat = mom[i] / (1 - Math.pow(B1, t));
                double vHat = vel[i] / (1 - Math.pow(B2, t));
                p[i] -= lrs[t - 1] * mHat / (Math.sqrt(vHat) + EPS);
            }
        }
        try (NDManager m = NDManager.newBaseManager(Device.cpu()); Adam adam = adam(m, 6)) {
            NDArray param = m.create(p0, new Shape(2, 3));
            for (int t = 0; t < 3; t++) {
                adam.update(List.of(param), List.of(m.create(grads[t], new Shape(2, 3))), lrs[t]);
            }
            float[] got = param.toFloatArray();
            float[] m1 = adam.firstMoment(0).toFloatArray();
            float[] v1 = adam.secondMoment(0).toFloatArray();
            for (int i = 0; i < 6; i++) {
                assertThat((double) got[i]).as("weight %d", i).isCloseTo(p[i], within(1e-6));
                assertThat((double) m1[i]).as("m %d", i).isCloseTo(mom[i], within(1e-6));
                assertThat((double) v1[i]).as("v %d", i).isCloseTo(vel[i], within(1e-6));
            }
        }
    }

    static Adam adam(NDManager m, int n) {
        Shape s = n == 6 ? new Shape(2, 3) : new Shape(n);
        return new Adam(m, List.of(s), B1, B2, EPS);
    }
}
