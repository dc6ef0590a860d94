package org.cellcircuits.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Updates against the rule written out in doubles, step by step: as Adam (weight decay 0, gradients given, the
 * transcoder trainer's use) and as AdamW (decay on matrices only, autograd gradients scaled, the model trainer's).
 */
class AdamWTest {

    static final double B1 = 0.9;
    static final double EPS = 1e-8;

    // ---- Adam: weight decay 0, gradients passed in --------------------------------------------------------------

    static final double ADAM_B2 = 0.999;

    @Test
    void firstStepMovesEachWeightByLrAgainstItsGradientsSign() {
        // t = 1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps), whatever the size of g.
        float[] p0 = {0.5f, -1.0f, 2.0f, 0.0f};
        float[] g = {3.0f, -0.002f, 1e-3f, -40f};
        double lr = 0.01;
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
                AdamW adam = AdamW.adam(m, List.of(new Shape(4)), B1, ADAM_B2, EPS)) {
            NDArray p = m.create(p0);
            adam.update(List.of(p), List.of(m.create(g)), lr);
            float[] after = p.toFloatArray();
            for (int i = 0; i < 4; i++) {
                double expected = p0[i] - lr * g[i] / (Math.abs(g[i]) + EPS);
                assertThat((double) after[i]).isCloseTo(expected, within(1e-6));
            }
            assertThat(adam.steps()).isEqualTo(1);
        }
    }

    @Test
    void threeAdamStepsMatchTheBiasCorrectedUpdateWorkedOutInDoubles() {
        float[] p0 = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f};
        float[][] grads = {{1f, -2f, 0.5f, 0f, 3f, -1f}, {-0.5f, -1f, 0.5f, 2f, 1f, 0.25f}, {0.1f, 0f, -4f, 1f, -3f, 2f}};
        double[] lrs = {1e-2, 5e-3, 2e-3};
        double[] p = toDoubles(p0);
        double[] mom = new double[6];
        double[] vel = new double[6];
        for (int t = 1; t <= 3; t++) {
            update(p, toDoubles(grads[t - 1]), mom, vel, lrs[t - 1], t, ADAM_B2, 0);
        }
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
                AdamW adam = AdamW.adam(m, List.of(new Shape(2, 3)), B1, ADAM_B2, EPS)) {
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

    // ---- AdamW: decay on matrices, autograd gradients scaled ----------------------------------------------------

    static final double ADAMW_B2 = 0.95;
    static final double WD = 0.1;

    /** loss = sum(c_w * w) + sum(c_b * b^2), so dL/dw = c_w and dL/db = 2 c_b b. */
    static void backward(NDArray w, NDArray b, float[] cw, float[] cb) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
                GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray loss = w.mul(m.create(cw, w.getShape())).sum().add(b.square().mul(m.create(cb)).sum());
            gc.backward(loss);
        }
    }

    @Test
    void threeStepsFollowTheAdamWRuleWithDecayOnMatricesOnlyAndScaledGradients() {
        float[] w0 = {0.5f, -1.0f, 2.0f, 0.25f};
        float[] b0 = {0.3f, -0.7f};
        float[] cw = {1.0f, -2.0f, 0.5f, 3.0f};
        float[] cb = {1.5f, 0.25f};
        double[] lr = {1e-2, 5e-3, 2e-2};
        double[] scale = {1.0, 0.5, 1.0};
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray w = m.create(w0, new Shape(2, 2));
            NDArray b = m.create(b0);
            w.setRequiresGradient(true);
            b.setRequiresGradient(true);
            Map<String, NDArray> params = new LinkedHashMap<>();
            params.put("w", w);
            params.put("b", b);
            double[] ew = toDoubles(w0);
            double[] eb = toDoubles(b0);
            double[] mw = new double[4];
            double[] vw = new double[4];
            double[] mb = new double[2];
            double[] vb = new double[2];
            try (AdamW adam = AdamW.forParameters(params, B1, ADAMW_B2, EPS, WD, AdamW.matricesOnly(params))) {
                for (int t = 1; t <= 3; t++) {
                    backward(w, b, cw, cb);
                    double[] gw = new double[4];
                    double[] gb = new double[2];
                    for (int i = 0; i < 4; i++) {
                        gw[i] = cw[i] * scale[t - 1];
                    }
                    for (int i = 0; i < 2; i++) {
                        gb[i] = 2 * cb[i] * eb[i] * scale[t - 1];
                    }
                    double norm = 0;
                    for (int i = 0; i < 4; i++) {
                        norm += cw[i] * cw[i];
                    }
                    for (int i = 0; i < 2; i++) {
                        norm += Math.pow(2 * cb[i] * eb[i], 2);
                    }
                    assertThat(AdamW.gradientNorm(params.values())).as("global gradient norm at step %d", t)
                            .isCloseTo(Math.sqrt(norm), within(1e-5));
                    adam.step(params, lr[t - 1], scale[t - 1]);
                    update(ew, gw, mw, vw, lr[t - 1], t, ADAMW_B2, WD);
                    update(eb, gb, mb, vb, lr[t - 1], t, ADAMW_B2, 0);
                    float[] aw = w.toFloatArray();
                    float[] ab = b.toFloatArray();
                    for (int i = 0; i < 4; i++) {
                        assertThat((double) aw[i]).as("w[%d] after step %d", i, t).isCloseTo(ew[i], within(1e-6));
                    }
                    for (int i = 0; i < 2; i++) {
                        assertThat((double) ab[i]).as("b[%d] after step %d", i, t).isCloseTo(eb[i], within(1e-6));
                    }
                    try (NDArray g = w.getGradient()) {
                        assertThat(g.toFloatArray()).as("gradients are zeroed after a step").containsOnly(0f);
                    }
                }
                assertThat(adam.steps()).isEqualTo(3);
            }
        }
    }

    @Test
    void aParameterWithoutGradientIsNamed() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Map<String, NDArray> params = Map.of("gpt_neox.final_layer_norm.bias", m.zeros(new Shape(3)));
            assertThatThrownBy(() -> AdamW.forParameters(params, B1, ADAMW_B2, EPS, WD, n -> true))
                    .hasMessageContaining("gpt_neox.final_layer_norm.bias").hasMessageContaining("setRequiresGradient");
        }
    }

    /** torch.optim.AdamW (torch.optim.Adam when wd is 0), written out. */
    static void update(double[] p, double[] g, double[] m, double[] v, double lr, int t, double b2, double wd) {
        for (int i = 0; i < p.length; i++) {
            m[i] = B1 * m[i] + (1 - B1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            p[i] *= 1 - lr * wd;
            double mHat = m[i] / (1 - Math.pow(B1, t));
            double vHat = v[i] / (1 - Math.pow(b2, t));
            p[i] -= lr * mHat / (Math.sqrt(vHat) + EPS);
        }
    }

    static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
