package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The hand-written loss and gradients of {@link TranscoderLoss}, in float64, against three independent references:
 * the loss recomputed with plain Java loops, central finite differences of that loss, and DJL/PyTorch autograd of
 * the same loss written as a forward pass only.
 */
class TranscoderLossTest {

    static final int D_IN = 6;
    static final int D_SAE = 10;
    static final int D_OUT = 5;
    static final int ROWS = 7;
    static final double LAMBDA = 0.3; // large, so the decoder-norm term moves the W_dec gradient visibly

    static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager(Device.cpu());
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    /** Parameters and data drawn so that no pre-activation sits within 0.05 of the ReLU kink. */
    record Problem(double[] wEnc, double[] bEnc, double[] wDec, double[] bDec, double[] x, double[] t, int dOut) {

        double[][] params() {
            return new double[][] {wEnc, bEnc, wDec, bDec};
        }
    }

    static Problem problem(long seed, boolean autoencoder) {
        int dOut = autoencoder ? D_IN : D_OUT;
        Random r = new Random(seed);
        while (true) {
            Problem p = new Problem(gauss(r, D_IN * D_SAE, 0.6), gauss(r, D_SAE, 0.4), gauss(r, D_SAE * dOut, 0.5),
                    gauss(r, dOut, 0.3), gauss(r, ROWS * D_IN, 1.0), autoencoder ? null : gauss(r, ROWS * dOut, 1.0),
                    dOut);
            double[] pre = preActivations(p);
            boolean clear = true;
            int on = 0;
            for (double v : pre) {
                clear &= Math.abs(v) > 0.05;
                on += v > 0 ? 1 : 0;
            }
            if (clear && on > pre.length / 4 && on < pre.length * 3 / 4) {
                return p;
            }
        }
    }

    static double[] gauss(Random r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * scale;
        }
        return v;
    }

    static double[] preActivations(Problem p) {
        double[] pre = new double[ROWS * D_SAE];
        for (int b = 0; b < ROWS; b++) {
            for (int i = 0; i < D_SAE; i++) {
                double s = p.bEnc[i];
                for (int j = 0; j < D_IN; j++) {
                    s += p.x[b * D_IN + j] * p.wEnc[j * D_SAE + i];
                }
                pre[b * D_SAE + i] = s;
            }
        }
        return pre;
    }

    /** The loss with plain loops: sum_b ||z_b W_dec + b_dec - t_b||^2 + lambda sum_b sum_i z_bi ||W_dec,i||. */
    static double[] javaLoss(Problem p, double[][] params, double lambda) {
        double[] wDec = params[2];
        double[] bDec = params[3];
        Problem q = new Problem(params[0], params[1], wDec, bDec, p.x, p.t, p.dOut);
        double[] pre = preActivations(q);
        double[] target = p.t == null ? p.x : p.t;
        double sse = 0;
        double l1 = 0;
        for (int b = 0; b < ROWS; b++) {
            for (int k = 0; k < p.dOut; k++) {
                double y = bDec[k];
                for (int i = 0; i < D_SAE; i++) {
                    y += Math.max(0, pre[b * D_SAE + i]) * wDec[i * p.dOut + k];
                }
                double e = y - target[b * p.dOut + k];
                sse += e * e;
            }
            for (int i = 0; i < D_SAE; i++) {
                double n = 0;
                for (int k = 0; k < p.dOut; k++) {
                    n += wDec[i * p.dOut + k] * wDec[i * p.dOut + k];
                }
                l1 += Math.max(0, pre[b * D_SAE + i]) * Math.sqrt(n);
            }
        }
        return new double[] {sse, l1, sse + lambda * l1};
    }

    static NDArray f64(NDManager m, double[] v, long... shape) {
        return m.create(v, new Shape(shape));
    }

    static TranscoderLoss.Result compute(NDManager m, Problem p, double[][] params, double lambda, boolean grads) {
        NDArray x = f64(m, p.x, ROWS, D_IN);
        NDArray t = p.t == null ? x : f64(m, p.t, ROWS, p.dOut);
        return TranscoderLoss.compute(f64(m, params[0], D_IN, D_SAE), f64(m, params[1], D_SAE),
                f64(m, params[2], D_SAE, p.dOut), f64(m, params[3], p.dOut), x, t, lambda, grads);
    }

    @Test
    void lossAndStatisticsMatchPlainLoops() {
        Problem p = problem(1, false);
        try (NDManager m = manager.newSubManager()) {
            TranscoderLoss.Result r = compute(m, p, p.params(), LAMBDA, false);
            double[] expected = javaLoss(p, p.params(), LAMBDA);
            assertThat(r.sse()).isCloseTo(expected[0], within(1e-12 * expected[0]));
            assertThat(r.l1Sum()).isCloseTo(expected[1], within(1e-12 * expected[1]));
            double[] pre = preActivations(p);
            long on = 0;
            long[] fires = new long[D_SAE];
            for (int k = 0; k < pre.length; k++) {
                if (pre[k] > 0) {
                    on++;
                    fires[k % D_SAE]++;
                }
            }
            assertThat(r.l0Sum()).isEqualTo(on);
            assertThat(r.featureFires()).containsExactly(fires);
            double m2 = 0;
            for (int k = 0; k < D_OUT; k++) {
                double mean = 0;
                for (int b = 0; b < ROWS; b++) {
                    mean += p.t[b * D_OUT + k] / ROWS;
                }
                assertThat(r.targetMean()[k]).isCloseTo(mean, within(1e-12));
                for (int b = 0; b < ROWS; b++) {
                    m2 += Math.pow(p.t[b * D_OUT + k] - mean, 2);
                }
            }
            assertThat(r.targetM2()).isCloseTo(m2, within(1e-10));
        }
    }

    @Test
    void gradientsMatchCentralFiniteDifferencesIncludingTheDecoderNormTerm() {
        for (boolean autoencoder : new boolean[] {false, true}) {
            Problem p = problem(autoencoder ? 3 : 2, autoencoder);
            double[][] analytic = new double[4][];
            try (NDManager m = manager.newSubManager()) {
                TranscoderLoss.Result r = compute(m, p, p.params(), LAMBDA, true);
                int i = 0;
                for (NDArray g : r.gradients()) {
                    assertThat(g.getDataType()).isEqualTo(DataType.FLOAT64);
                    analytic[i++] = g.toDoubleArray();
                }
            }
            String[] names = {"W_enc", "b_enc", "W_dec", "b_dec"};
            double h = 1e-6;
            for (int k = 0; k < 4; k++) {
                for (int e = 0; e < analytic[k].length; e++) {
                    double[][] plus = copy(p.params());
                    double[][] minus = copy(p.params());
                    plus[k][e] += h;
                    minus[k][e] -= h;
                    double numeric = (javaLoss(p, plus, LAMBDA)[2] - javaLoss(p, minus, LAMBDA)[2]) / (2 * h);
                    assertThat(analytic[k][e])
                            .as("%s d/d%s[%d]", autoencoder ? "sae" : "transcoder", names[k], e)
                            .isCloseTo(numeric, within(1e-6 * Math.max(1, Math.abs(numeric))));
                }
            }
        }
    }

    @Test
    void theDecoderNormTermIsWhatSeparatesTheWdecGradientsWithAndWithoutLambda() {
        // Guards against a penalty whose norm is detached: then dL/dW_dec would not change with lambda.
        Problem p = problem(4, false);
        try (NDManager m = manager.newSubManager()) {
            double[] with = compute(m, p, p.params(), LAMBDA, true).gradients().get(2).toDoubleArray();
            double[] without = compute(m, p, p.params(), 0, true).gradients().get(2).toDoubleArray();
            double[] pre = preActivations(p);
            for (int i = 0; i < D_SAE; i++) {
                double zSum = 0;
                for (int b = 0; b < ROWS; b++) {
                    zSum += Math.max(0, pre[b * D_SAE + i]);
                }
                double n = 0;
                for (int k = 0; k < D_OUT; k++) {
                    n += p.wDec[i * D_OUT + k] * p.wDec[i * D_OUT + k];
                }
                n = Math.sqrt(n);
                for (int k = 0; k < D_OUT; k++) {
                    double expected = LAMBDA * zSum * p.wDec[i * D_OUT + k] / n;
                    assertThat(with[i * D_OUT + k] - without[i * D_OUT + k]).isCloseTo(expected, within(1e-12));
                }
            }
        }
    }

    @Test
    void gradientsMatchDjlAutogradOfTheForwardPass() {
        Problem p = problem(5, false);
        try (NDManager m = manager.newSubManager()) {
            TranscoderLoss.Result ours = compute(m, p, p.params(), LAMBDA, true);
            NDArray[] params = {f64(m, p.wEnc, D_IN, D_SAE), f64(m, p.bEnc, D_SAE), f64(m, p.wDec, D_SAE, D_OUT),
                f64(m, p.bDec, D_OUT)};
            for (NDArray a : params) {
                a.setRequiresGradient(true);
            }
            NDArray x = f64(m, p.x, ROWS, D_IN);
            NDArray t = f64(m, p.t, ROWS, D_OUT);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray z = ai.djl.nn.Activation.relu(x.matMul(params[0]).add(params[1]));
                NDArray y = z.matMul(params[2]).add(params[3]);
                NDArray decoderNorms = params[2].norm(new int[] {1});
                NDArray loss = y.sub(t).square().sum().add(z.mul(decoderNorms).sum().mul(LAMBDA));
                gc.backward(loss);
            }
            NDArray[] grads = ours.gradients().toArray(new NDArray[0]);
            for (int k = 0; k < 4; k++) {
                double[] a = grads[k].toDoubleArray();
                double[] b = params[k].getGradient().toDoubleArray();
                for (int e = 0; e < a.length; e++) {
                    assertThat(a[e]).as("parameter %d element %d", k, e).isCloseTo(b[e], within(1e-10));
                }
            }
        }
    }

    static double[][] copy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }
}
