package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link TranscoderLoss} for TopK, BatchTopK and JumpReLU, with and without a skip connection, in float64 against
 * plain-Java references written from the papers' definitions: the selection (which features are active, the
 * smallest survivor of a batch), the loss sums, AuxK, and every gradient. The selection is piecewise constant, so the
 * gradients of the weights are checked by central finite differences of the reference loss with the active sets (and
 * AuxK's target, which the anchors detach) held at their values at the point; the problems are drawn so that no
 * pre-activation sits within 0.02 of a selection boundary, where h = 1e-6 could not flip a choice anyway. JumpReLU's
 * threshold gradient is a straight-through estimate, not a derivative, so it is checked against the estimator's
 * formula (SAELens's {@code JumpReLU.backward} and {@code Step.backward}, circuit-tracer's {@code jumprelu}) written
 * with loops.
 */
class ArchitectureLossTest {

    static final int D_IN = 6;
    static final int D_SAE = 12;
    static final int D_OUT = 5;
    static final int ROWS = 7;
    static final int K = 3;
    static final double LAMBDA = 0.4;
    static final double BANDWIDTH = 0.5; // wide, so that several pre-activations fall in the estimator's window
    static final double AUX = 0.25;
    static final int[] DEAD = {1, 4, 7, 10};

    static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager(Device.cpu());
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    static List<Arguments> architectures() {
        List<Arguments> a = new ArrayList<>();
        for (Activation act : List.of(Activation.TOPK, Activation.BATCHTOPK, Activation.JUMPRELU, Activation.RELU)) {
            for (boolean skip : new boolean[] {false, true}) {
                if (act != Activation.RELU || skip) {
                    a.add(Arguments.of(act, skip));
                }
            }
        }
        return a;
    }

    static TranscoderArchitecture arch(Activation a, boolean skip) {
        return new TranscoderArchitecture(a, K, AUX, LAMBDA, 0.01, BANDWIDTH, 0.01, skip);
    }

    /** Weights in the trainer's order (W_enc, b_enc, W_dec, b_dec[, log_threshold][, W_skip]), inputs, targets. */
    record Problem(TranscoderArchitecture arch, double[][] w, double[] x, double[] t) {

        double[] pre(double[][] p) {
            double[] pre = new double[ROWS * D_SAE];
            for (int b = 0; b < ROWS; b++) {
                for (int i = 0; i < D_SAE; i++) {
                    double s = p[1][i];
                    for (int j = 0; j < D_IN; j++) {
                        s += x[b * D_IN + j] * p[0][j * D_SAE + i];
                    }
                    pre[b * D_SAE + i] = s;
                }
            }
            return pre;
        }

        double[] theta() {
            double[] th = new double[D_SAE];
            for (int i = 0; i < D_SAE; i++) {
                th[i] = Math.exp(w[4][i]);
            }
            return th;
        }

        double[] skip(double[][] p) {
            return arch.skipConnection() ? p[p.length - 1] : null;
        }

        /** Which (row, feature) is active, by the definitions: sorted, not by libtorch's topk. */
        boolean[] active() {
            double[] pre = pre(w);
            boolean[] m = new boolean[pre.length];
            switch (arch.activation()) {
                case RELU -> {
                    for (int e = 0; e < pre.length; e++) {
                        m[e] = pre[e] > 0;
                    }
                }
                case TOPK -> {
                    for (int b = 0; b < ROWS; b++) {
                        double[] row = Arrays.copyOfRange(pre, b * D_SAE, (b + 1) * D_SAE);
                        double[] sorted = row.clone();
                        Arrays.sort(sorted);
                        double kth = sorted[D_SAE - K];
                        for (int i = 0; i < D_SAE; i++) {
                            m[b * D_SAE + i] = row[i] >= kth && row[i] > 0;
                        }
                    }
                }
                case BATCHTOPK -> {
                    double[] sorted = pre.clone();
                    Arrays.sort(sorted);
                    double kth = sorted[pre.length - K * ROWS];
                    for (int e = 0; e < pre.length; e++) {
                        m[e] = pre[e] >= kth && pre[e] > 0;
                    }
                }
                case JUMPRELU -> {
                    double[] th = theta();
                    for (int e = 0; e < pre.length; e++) {
                        m[e] = pre[e] > th[e % D_SAE];
                    }
                }
            }
            return m;
        }

        /** AuxK's picks: each row's k_aux = D_OUT / 2 largest positive pre-activations among the dead features. */
        boolean[] auxActive() {
            boolean[] a = new boolean[ROWS * D_SAE];
            if (arch.activation() != Activation.TOPK && arch.activation() != Activation.BATCHTOPK) {
                return a;
            }
            int kAux = Math.min(D_OUT / 2, DEAD.length);
            double[] pre = pre(w);
            for (int b = 0; b < ROWS; b++) {
                double[] dead = new double[DEAD.length];
                for (int d = 0; d < DEAD.length; d++) {
                    dead[d] = pre[b * D_SAE + DEAD[d]];
                }
                double[] sorted = dead.clone();
                Arrays.sort(sorted);
                double kth = sorted[DEAD.length - kAux];
                for (int d = 0; d < DEAD.length; d++) {
                    a[b * D_SAE + DEAD[d]] = dead[d] >= kth && dead[d] > 0;
                }
            }
            return a;
        }

        double auxScale() {
            return Math.min((double) DEAD.length / (D_OUT / 2), 1.0);
        }

        /** y (ROWS x D_OUT) for weights p with the active set m held fixed. */
        double[] output(double[][] p, boolean[] m) {
            double[] pre = pre(p);
            double[] skip = skip(p);
            double[] y = new double[ROWS * D_OUT];
            for (int b = 0; b < ROWS; b++) {
                for (int o = 0; o < D_OUT; o++) {
                    double s = p[3][o];
                    for (int i = 0; i < D_SAE; i++) {
                        if (m[b * D_SAE + i]) {
                            s += pre[b * D_SAE + i] * p[2][i * D_OUT + o];
                        }
                    }
                    if (skip != null) {
                        for (int j = 0; j < D_IN; j++) {
                            s += x[b * D_IN + j] * skip[o * D_IN + j];
                        }
                    }
                    y[b * D_OUT + o] = s;
                }
            }
            return y;
        }

        /** {sse, penalty (before lambda), aux (with its coefficient), total} with m, aux picks and AuxK target fixed. */
        double[] loss(double[][] p, boolean[] m, boolean[] am, double[] missFixed) {
            double[] y = output(p, m);
            double sse = 0;
            for (int e = 0; e < y.length; e++) {
                sse += (y[e] - t[e]) * (y[e] - t[e]);
            }
            double[] pre = pre(p);
            double penalty = 0;
            if (arch.activation() == Activation.JUMPRELU) {
                for (boolean on : m) {
                    penalty += on ? 1 : 0;
                }
            } else if (arch.activation() == Activation.RELU) {
                for (int b = 0; b < ROWS; b++) {
                    for (int i = 0; i < D_SAE; i++) {
                        if (m[b * D_SAE + i]) {
                            double n = 0;
                            for (int o = 0; o < D_OUT; o++) {
                                n += p[2][i * D_OUT + o] * p[2][i * D_OUT + o];
                            }
                            penalty += pre[b * D_SAE + i] * Math.sqrt(n);
                        }
                    }
                }
            }
            double aux = 0;
            if (arch.activation() == Activation.TOPK || arch.activation() == Activation.BATCHTOPK) {
                for (int b = 0; b < ROWS; b++) {
                    for (int o = 0; o < D_OUT; o++) {
                        double eHat = 0;
                        for (int i = 0; i < D_SAE; i++) {
                            if (am[b * D_SAE + i]) {
                                eHat += pre[b * D_SAE + i] * p[2][i * D_OUT + o];
                            }
                        }
                        double d = eHat - missFixed[b * D_OUT + o];
                        aux += d * d;
                    }
                }
                aux *= AUX * auxScale();
            }
            return new double[] {sse, penalty, aux, sse + LAMBDA * penalty + aux};
        }

        /** What the living features miss at the point, t - y: AuxK's target. */
        double[] miss(boolean[] m) {
            double[] y = output(w, m);
            double[] r = new double[y.length];
            for (int e = 0; e < y.length; e++) {
                r[e] = t[e] - y[e];
            }
            return r;
        }

        /** The straight-through d(loss)/d(log_threshold), with loops. */
        double[] logThresholdGradient(boolean[] m) {
            double[] pre = pre(w);
            double[] th = theta();
            double[] y = output(w, m);
            double[] g = new double[D_SAE];
            for (int b = 0; b < ROWS; b++) {
                for (int i = 0; i < D_SAE; i++) {
                    if (Math.abs(pre[b * D_SAE + i] - th[i]) >= BANDWIDTH / 2) {
                        continue;
                    }
                    double dz = 0;
                    for (int o = 0; o < D_OUT; o++) {
                        dz += 2 * (y[b * D_OUT + o] - t[b * D_OUT + o]) * w[2][i * D_OUT + o];
                    }
                    g[i] += -(th[i] / BANDWIDTH) * dz - LAMBDA / BANDWIDTH;
                }
            }
            for (int i = 0; i < D_SAE; i++) {
                g[i] *= th[i];
            }
            return g;
        }
    }

    static Problem problem(TranscoderArchitecture arch, long seed) {
        Random r = new Random(seed);
        while (true) {
            List<double[]> w = new ArrayList<>(List.of(gauss(r, D_IN * D_SAE, 0.6), gauss(r, D_SAE, 0.4),
                    gauss(r, D_SAE * D_OUT, 0.5), gauss(r, D_OUT, 0.3)));
            if (arch.activation() == Activation.JUMPRELU) {
                double[] logTh = new double[D_SAE];
                for (int i = 0; i < D_SAE; i++) {
                    logTh[i] = Math.log(0.2 + 0.6 * r.nextDouble());
                }
                w.add(logTh);
            }
            if (arch.skipConnection()) {
                w.add(gauss(r, D_OUT * D_IN, 0.3));
            }
            Problem p = new Problem(arch, w.toArray(new double[0][]), gauss(r, ROWS * D_IN, 1.0),
                    gauss(r, ROWS * D_OUT, 1.0));
            if (wellSeparated(p)) {
                return p;
            }
        }
    }

    /**
     * No pre-activation within 0.02 of 0 or of its threshold, and a gap of 0.02 at every top-k cut (each row's k-th
     * and (k+1)-th, the batch's kB-th and (kB+1)-th, each row's k_aux-th and next among the dead features).
     */
    static boolean wellSeparated(Problem p) {
        double[] pre = p.pre(p.w);
        Activation a = p.arch.activation();
        if (a == Activation.BATCHTOPK && !gapAt(pre, K * ROWS)) {
            return false;
        }
        for (int b = 0; b < ROWS; b++) {
            double[] row = Arrays.copyOfRange(pre, b * D_SAE, (b + 1) * D_SAE);
            if (a == Activation.TOPK && !gapAt(row, K)) {
                return false;
            }
            double[] dead = new double[DEAD.length];
            for (int d = 0; d < DEAD.length; d++) {
                dead[d] = row[DEAD[d]];
            }
            if ((a == Activation.TOPK || a == Activation.BATCHTOPK) && !gapAt(dead, Math.min(D_OUT / 2, DEAD.length))) {
                return false;
            }
        }
        for (int b = 0; b < ROWS && p.arch.activation() == Activation.TOPK; b++) {
            int positive = 0;
            for (int i = 0; i < D_SAE; i++) {
                positive += pre[b * D_SAE + i] > 0 ? 1 : 0;
            }
            if (positive < K) {
                return false; // so that every row keeps exactly k, as the test asserts
            }
        }
        for (int e = 0; e < pre.length; e++) {
            if (Math.abs(pre[e]) < 0.02) {
                return false;
            }
            if (p.arch.activation() == Activation.JUMPRELU && Math.abs(pre[e] - p.theta()[e % D_SAE]) < 0.02) {
                return false;
            }
        }
        return true;
    }

    /** Whether the n-th largest value is at least 0.02 above the (n+1)-th. */
    static boolean gapAt(double[] values, int n) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return n >= sorted.length || sorted[sorted.length - n] - sorted[sorted.length - n - 1] >= 0.02;
    }

    static double[] gauss(Random r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * scale;
        }
        return v;
    }

    static TranscoderLoss.Result compute(NDManager m, Problem p, boolean withDead) {
        long[][] shapes = {{D_IN, D_SAE}, {D_SAE}, {D_SAE, D_OUT}, {D_OUT}};
        List<NDArray> params = new ArrayList<>();
        for (int i = 0; i < p.w.length; i++) {
            long[] shape = i < 4 ? shapes[i] : p.w[i].length == D_SAE ? new long[] {D_SAE} : new long[] {D_OUT, D_IN};
            params.add(m.create(p.w[i], new Shape(shape)));
        }
        NDArray dead = null;
        if (withDead) {
            double[] mask = new double[D_SAE];
            for (int i : DEAD) {
                mask[i] = 1;
            }
            dead = m.create(mask);
        }
        return TranscoderLoss.compute(TranscoderLoss.Weights.of(params, p.arch), p.arch,
                m.create(p.x, new Shape(ROWS, D_IN)), m.create(p.t, new Shape(ROWS, D_OUT)), LAMBDA, dead, true);
    }

    @ParameterizedTest(name = "{0}, skip {1}")
    @MethodSource("architectures")
    void selectionAndLossSumsMatchTheDefinitions(Activation act, boolean skip) {
        Problem p = problem(arch(act, skip), 11);
        boolean[] m = p.active();
        boolean[] am = p.auxActive();
        double[] expected = p.loss(p.w, m, am, p.miss(m));
        try (NDManager nd = manager.newSubManager()) {
            TranscoderLoss.Result r = compute(nd, p, true);
            long[] fires = new long[D_SAE];
            int on = 0;
            double smallest = Double.POSITIVE_INFINITY;
            double[] pre = p.pre(p.w);
            for (int e = 0; e < m.length; e++) {
                if (m[e]) {
                    fires[e % D_SAE]++;
                    on++;
                    smallest = Math.min(smallest, pre[e]);
                }
            }
            assertThat(r.featureFires()).containsExactly(fires);
            assertThat(r.l0Sum()).isEqualTo(on);
            if (act == Activation.TOPK) {
                assertThat(on).as("every row of the problem has >= k positive pre-activations").isEqualTo(K * ROWS);
            }
            assertThat(r.sse()).isCloseTo(expected[0], within(1e-12 * expected[0]));
            assertThat(r.penaltySum()).isCloseTo(expected[1], within(1e-12 * Math.max(1, expected[1])));
            assertThat(r.auxSum()).isCloseTo(expected[2], within(1e-12 * Math.max(1, expected[2])));
            if (act == Activation.TOPK || act == Activation.BATCHTOPK) {
                assertThat(expected[2]).as("AuxK is live in this problem").isGreaterThan(0);
            }
            if (act == Activation.BATCHTOPK) {
                assertThat(r.thresholdObservation()).isCloseTo(smallest, within(1e-12));
            } else {
                assertThat(r.thresholdObservation()).isNaN();
            }
        }
    }

    @ParameterizedTest(name = "{0}, skip {1}")
    @MethodSource("architectures")
    void weightGradientsMatchFiniteDifferencesWithTheSelectionHeld(Activation act, boolean skip) {
        Problem p = problem(arch(act, skip), 23);
        boolean[] m = p.active();
        boolean[] am = p.auxActive();
        double[] miss = p.miss(m);
        double[][] analytic;
        try (NDManager nd = manager.newSubManager()) {
            analytic = compute(nd, p, true).gradients().stream().map(NDArray::toDoubleArray).toArray(double[][]::new);
        }
        assertThat(analytic.length).isEqualTo(p.w.length);
        double h = 1e-6;
        for (int k = 0; k < p.w.length; k++) {
            if (act == Activation.JUMPRELU && k == 4) {
                continue; // the threshold's gradient is an estimator, checked below
            }
            for (int e = 0; e < p.w[k].length; e++) {
                double[][] plus = deepCopy(p.w);
                double[][] minus = deepCopy(p.w);
                plus[k][e] += h;
                minus[k][e] -= h;
                double numeric = (p.loss(plus, m, am, miss)[3] - p.loss(minus, m, am, miss)[3]) / (2 * h);
                assertThat(analytic[k][e]).as("%s skip %s: d/d(weight %d)[%d]", act, skip, k, e)
                        .isCloseTo(numeric, within(1e-6 * Math.max(1, Math.abs(numeric))));
            }
        }
    }

    @ParameterizedTest(name = "skip {0}")
    @MethodSource("skipOrNot")
    void jumpReluThresholdGradientIsTheStraightThroughEstimate(boolean skip) {
        Problem p = problem(arch(Activation.JUMPRELU, skip), 37);
        double[] expected = p.logThresholdGradient(p.active());
        double[] analytic;
        try (NDManager nd = manager.newSubManager()) {
            analytic = compute(nd, p, false).gradients().get(4).toDoubleArray();
        }
        long inWindow = Arrays.stream(expected).filter(g -> g != 0).count();
        assertThat(inWindow).as("features with a pre-activation inside the estimator's window").isGreaterThan(3);
        for (int i = 0; i < D_SAE; i++) {
            assertThat(analytic[i]).as("d/dlog_threshold[%d]", i)
                    .isCloseTo(expected[i], within(1e-10 * Math.max(1, Math.abs(expected[i]))));
        }
    }

    static List<Boolean> skipOrNot() {
        return List.of(false, true);
    }

    static double[][] deepCopy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }
}
