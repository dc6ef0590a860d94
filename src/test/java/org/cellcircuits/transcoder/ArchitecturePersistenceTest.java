package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SoftwareVersions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every activation, with and without a skip connection, survives save and load, and computes what it claims to. */
class ArchitecturePersistenceTest {

    @TempDir Path tmp;

    static final int D_IN = 6;
    static final int D_OUT = 5;
    static final int D_SAE = 12;
    static final int K = 3;
    static final int ROWS = 16;
    // neither a power of two, so folding them into the weights rounds and the tolerance below is exercised
    static final double S_IN = 1.7;
    static final double S_OUT = 0.3;
    /** Unit roundoff of fp32. */
    static final double U = 0x1p-24;

    static Stream<Arguments> architectures() {
        return Arrays.stream(Activation.values())
                .flatMap(a -> Stream.of(Arguments.of(a, false), Arguments.of(a, true)));
    }

    static TranscoderConfig config(Activation a, boolean skip) {
        return TranscoderPersistenceTest.config(D_IN, D_OUT, D_SAE, 2).toBuilder().activation(a).k(K)
                .skipConnection(skip).build();
    }

    /** Random weights in {@link Transcoder#parameterNames} order; thresholds of both signs. */
    static float[][] weights(TranscoderConfig c, long seed) {
        Random r = new Random(seed);
        long[][] shapes = Transcoder.shapes(c);
        List<String> names = Transcoder.parameterNames(c);
        float[][] w = new float[names.size()][];
        for (int i = 0; i < w.length; i++) {
            int n = Math.toIntExact(new Shape(shapes[i]).size());
            double scale = switch (names.get(i)) {
                case "b_enc", "threshold", "W_skip" -> 0.3;
                case "b_dec" -> 0.2;
                default -> 0.5;
            };
            w[i] = TranscoderPersistenceTest.random(r, n, scale);
        }
        return w;
    }

    static String expectedArchitecture(Activation a, boolean skip) {
        String prefix = switch (a) {
            case RELU -> "";
            case TOPK -> "topk_";
            case BATCHTOPK, JUMPRELU -> "jumprelu_";
        };
        return prefix + (skip ? "skip_" : "") + "transcoder";
    }

    @ParameterizedTest(name = "{0} skip={1}")
    @MethodSource("architectures")
    void savesFoldedAndLoadsTheSameTranscoder(Activation a, boolean skip) throws Exception {
        TranscoderConfig c = config(a, skip);
        float[][] w = weights(c, 31L * a.ordinal() + (skip ? 7 : 0));
        TrainingProvenance p = new TrainingProvenance(12, 3456, c.hash(), SoftwareVersions.current());
        Path dir = tmp.resolve(a.configName() + "-" + skip);
        List<String> names = Transcoder.parameterNames(c);
        float[] x = TranscoderPersistenceTest.random(new Random(99), ROWS * D_IN, 1.0);
        try (Transcoder t = Transcoder.of(c, new ActivationScaling(S_IN, S_OUT, false), p, Device.cpu(), w)) {
            t.save(dir);
            try (Transcoder loaded = Transcoder.load(dir, Device.cpu()); NDManager m = NDManager.newBaseManager()) {
                assertThat(loaded.config()).isEqualTo(c);
                assertThat(loaded.scaling()).isEqualTo(new ActivationScaling(S_IN, S_OUT, true));
                assertThat(loaded.provenance()).isEqualTo(p);
                assertThat(loaded.activation()).isEqualTo(a == Activation.BATCHTOPK ? Activation.JUMPRELU : a);
                assertThat(loaded.hasSkip()).isEqualTo(skip);
                // the stored values are these float products exactly: folding is one fp32 multiply or divide each
                for (int i = 0; i < names.size(); i++) {
                    String n = names.get(i);
                    float[] expected = w[i].clone();
                    for (int j = 0; j < expected.length; j++) {
                        expected[j] = switch (n) {
                            case "W_enc" -> expected[j] * (float) S_IN;
                            case "W_dec", "b_dec" -> expected[j] / (float) S_OUT;
                            case "W_skip" -> expected[j] * (float) (S_IN / S_OUT);
                            default -> expected[j]; // b_enc; the threshold compares pre, which folding keeps
                        };
                    }
                    assertThat(loaded.weight(n).toFloatArray()).as(n).containsExactly(expected);
                }

                NDArray in = m.create(x, new Shape(ROWS, D_IN));
                double[][] ref = reference(c, w, x);
                float[] yOrig = t.forward(in).toFloatArray();
                float[] yLoaded = loaded.forward(in).toFloatArray();
                float[] zOrig = t.encode(in).toFloatArray();
                float[] zLoaded = loaded.encode(in).toFloatArray();
                for (int b = 0; b < ROWS; b++) {
                    for (int k = 0; k < D_OUT; k++) {
                        int at = b * D_OUT + k;
                        double tol = tolerance(ref[2][at]);
                        assertThat((double) yOrig[at]).as("unfolded y[%d][%d]", b, k).isCloseTo(ref[0][at],
                                within(tol));
                        assertThat((double) yLoaded[at]).as("loaded y[%d][%d]", b, k).isCloseTo(ref[0][at],
                                within(tol));
                    }
                    for (int i = 0; i < D_SAE; i++) {
                        int at = b * D_SAE + i;
                        double tol = tolerance(ref[3][at]);
                        assertThat((double) zOrig[at]).isCloseTo(ref[1][at], within(tol));
                        assertThat((double) zLoaded[at]).isCloseTo(ref[1][at],
                                within(tol));
                        assertThat(zOrig[at] != 0).as("unfolded active set").isEqualTo(ref[1][at] != 0);
                        assertThat(zLoaded[at] != 0).as("loaded active set").isEqualTo(ref[1][at] != 0);
                    }
                }
            }
        }

        JsonObject cfg = JsonParser.parseString(Files.readString(dir.resolve("cfg.json"))).getAsJsonObject();
        assertThat(cfg.get("architecture").getAsString()).isEqualTo(expectedArchitecture(a, skip));
        assertThat(cfg.get("activation").getAsString()).isEqualTo(switch (a) {
            case RELU -> "relu";
            case TOPK -> "topk";
            case BATCHTOPK, JUMPRELU -> "jump_relu";
        });
        if (a == Activation.TOPK) {
            assertThat(cfg.get("k").getAsInt()).isEqualTo(K);
        } else {
            assertThat(cfg.has("k")).as("k beside a non-TopK architecture").isFalse();
        }
        assertThat(cfg.getAsJsonObject("training").get("activation").getAsString()).isEqualTo(a.configName());
        assertThat(cfg.getAsJsonObject("training").get("skip_connection").getAsBoolean()).isEqualTo(skip);
        assertThat(cfg.getAsJsonObject("scaling_factors").get("folded_into_weights").getAsBoolean()).isTrue();
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("weights.safetensors"))) {
            assertThat(r.names()).containsExactlyElementsOf(names);
            for (String n : names) {
                assertThat(r.info(n).dtype()).isEqualTo(SafetensorsDType.F32);
            }
            if (skip) {
                assertThat(r.info("W_skip").shape()).containsExactly(D_OUT, D_IN);
            }
        }
    }

    /**
     * Each output is a sum of at most m = D_IN + D_SAE + 1 products, each factor having passed through at most two
     * more fp32 roundings (the scale folded into a weight or applied to x; the final / s_out). Whatever the order of
     * summation (DJL's matmul may block or use FMA), the fp32 result is within gamma_n * sum|term| of the exact one,
     * gamma_n = n u / (1 - n u), n = m + 3 (Higham, Accuracy and Stability, 3.1). An error in z of at most
     * gamma_n * (its own sum|term|) reaches y through |W_dec|, which {@link #reference} adds into y's scale. Both
     * transcoders are compared with the exact value, so each is held to that bound; the factor 2 covers the
     * second-order terms the bound leaves out. Equal active sets are asserted, since the bound holds only when fp32
     * and exact arithmetic take the same decisions (true of this data: no pre-activation is that close to a
     * boundary).
     */
    static double tolerance(double scale) {
        int n = D_IN + D_SAE + 1 + 3;
        double gamma = n * U / (1 - n * U);
        return 2 * gamma * scale;
    }

    /**
     * The transcoder's formula in double from the unfolded weights: {y, z, y's scale, z's scale}, each row-major.
     * The activation rules are written out here, independently of {@link Transcoder#activate}.
     */
    static double[][] reference(TranscoderConfig c, float[][] w, float[] x) {
        float[] we = w[0];
        float[] be = w[1];
        float[] wd = w[2];
        float[] bd = w[3];
        Activation a = c.activation().atInference();
        float[] th = a == Activation.JUMPRELU ? w[4] : null;
        float[] ws = c.skipConnection() ? w[w.length - 1] : null;
        double[] y = new double[ROWS * D_OUT];
        double[] z = new double[ROWS * D_SAE];
        double[] ys = new double[ROWS * D_OUT];
        double[] zs = new double[ROWS * D_SAE];
        for (int b = 0; b < ROWS; b++) {
            double[] pre = new double[D_SAE];
            for (int i = 0; i < D_SAE; i++) {
                double v = be[i];
                double s = Math.abs(be[i]);
                for (int j = 0; j < D_IN; j++) {
                    double term = S_IN * x[b * D_IN + j] * we[j * D_SAE + i];
                    v += term;
                    s += Math.abs(term);
                }
                pre[i] = v;
                zs[b * D_SAE + i] = s;
            }
            double[] act = activateReference(a, pre, th, K);
            System.arraycopy(act, 0, z, b * D_SAE, D_SAE);
            for (int k = 0; k < D_OUT; k++) {
                double v = bd[k];
                double s = Math.abs(bd[k]);
                for (int i = 0; i < D_SAE; i++) {
                    v += act[i] * wd[i * D_OUT + k];
                    s += (Math.abs(act[i]) + zs[b * D_SAE + i]) * Math.abs(wd[i * D_OUT + k]);
                }
                if (ws != null) {
                    for (int j = 0; j < D_IN; j++) {
                        double term = S_IN * x[b * D_IN + j] * ws[k * D_IN + j];
                        v += term;
                        s += Math.abs(term);
                    }
                }
                y[b * D_OUT + k] = v / S_OUT;
                ys[b * D_OUT + k] = s / S_OUT;
            }
        }
        return new double[][] {y, z, ys, zs};
    }

    /** relu: max(pre, 0); topk: the k largest entries that are positive; jumprelu: pre where pre > threshold. */
    static double[] activateReference(Activation a, double[] pre, float[] threshold, int k) {
        double[] out = new double[pre.length];
        switch (a) {
            case RELU -> {
                for (int i = 0; i < pre.length; i++) {
                    out[i] = Math.max(pre[i], 0);
                }
            }
            case TOPK -> {
                Integer[] order = IntStream.range(0, pre.length).boxed().toArray(Integer[]::new);
                Arrays.sort(order, Comparator.comparingDouble((Integer i) -> pre[i]).reversed());
                for (int r = 0; r < k; r++) {
                    int i = order[r];
                    out[i] = pre[i] > 0 ? pre[i] : 0;
                }
            }
            case JUMPRELU -> {
                for (int i = 0; i < pre.length; i++) {
                    out[i] = pre[i] > threshold[i] ? pre[i] : 0;
                }
            }
            default -> throw new AssertionError(a);
        }
        return out;
    }

    @Test
    void activateKeepsWhatEachActivationPromises() {
        Random r = new Random(5);
        int rows = 7;
        float[] pre = TranscoderPersistenceTest.random(r, rows * D_SAE, 1.0);
        // a row with fewer positive entries than k, and one with none: topk keeps only the positive ones
        for (int i = 0; i < D_SAE; i++) {
            pre[5 * D_SAE + i] = i < 2 ? 0.5f + i : -0.1f - i;
            pre[6 * D_SAE + i] = -1f - i;
        }
        for (Activation a : Activation.values()) {
            TranscoderConfig c = config(a, false);
            float[][] w = weights(c, 77);
            if (a.hasThreshold()) {
                float[] th = w[4];
                th[0] = 0f;
                th[1] = -0.5f; // negative: negative pre-activations above it are kept, as pre * (pre > t) says
                th[2] = pre[2]; // equal: not strictly greater, so dropped
            }
            try (Transcoder t = Transcoder.of(c, new ActivationScaling(1, 1, true), TrainingProvenance.untrained(c),
                    Device.cpu(), w); NDManager m = NDManager.newBaseManager()) {
                float[] got = t.activate(m.create(pre, new Shape(rows, D_SAE))).toFloatArray();
                for (int b = 0; b < rows; b++) {
                    double[] row = new double[D_SAE];
                    for (int i = 0; i < D_SAE; i++) {
                        row[i] = pre[b * D_SAE + i];
                    }
                    double[] expected = activateReference(a.atInference(), row, a.hasThreshold() ? w[4] : null, K);
                    for (int i = 0; i < D_SAE; i++) {
                        // every output is 0 or the pre-activation itself, so equality is exact
                        assertThat(got[b * D_SAE + i]).as("%s row %d feature %d", a, b, i)
                                .isEqualTo((float) expected[i]);
                    }
                    if (a == Activation.TOPK) {
                        long positive = Arrays.stream(row).filter(v -> v > 0).count();
                        int start = b * D_SAE;
                        long kept = IntStream.range(start, start + D_SAE).filter(i -> got[i] != 0).count();
                        assertThat(kept).isEqualTo(Math.min(K, positive));
                    }
                }
                if (a.hasThreshold()) {
                    assertThat(got[2]).as("pre equal to its threshold").isZero();
                }
            }
        }
    }
}
