package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AdamW updates against the update rule written out in doubles, step by step. */
class AdamWTest {

    static final double B1 = 0.9;
    static final double B2 = 0.95;
    static final double EPS = 1e-8;
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
            NDArray w = m.create(w0, new ai.djl.ndarray.types.Shape(2, 2));
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
            try (AdamW adam = new AdamW(params, B1, B2, EPS, WD, AdamW.matricesOnly(params))) {
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
                    assertThat(adam.gradientNorm()).as("global gradient norm at step %d", t).isCloseTo(Math.sqrt(norm), within(1e-5));
                    adam.step(lr[t - 1], scale[t - 1]);
                    update(ew, gw, mw, vw, lr[t - 1], t, true);
                    update(eb, gb, mb, vb, lr[t - 1], t, false);
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

    /** torch.optim.AdamW, written out. */
    static void update(double[] p, double[] g, double[] m, double[] v, double lr, int t, boolean decay) {
        for (int i = 0; i < p.length; i++) {
            m[i] = B1 * m[i] + (1 - B1) * g[i];
            v[i] = B2 * v[i] + (1 - B2) * g[i] * g[i];
            if (decay) {
                p[i] *= 1 - lr * WD;
            }
            double mHat = m[i] / (1 - Math.pow(B1, t));
            double vHat = v[i] / (1 - Math.pow(B2, t));
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

    @Test
    void aParameterWithoutGradientIsNamed() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Map<String, NDArray> params = Map.of("gpt_neox.final_layer_norm.bias", m.zeros(new ai.djl.ndarray.types.Shape(3)));
            assertThatThrownBy(() -> new AdamW(params, B1, B2, EPS, WD, n -> true))
                    .hasMessageContaining("gpt_neox.final_layer_norm.bias").hasMessageContaining("setRequiresGradient");
        }
    }
}
