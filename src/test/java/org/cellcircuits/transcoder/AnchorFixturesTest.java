package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Transcoders saved by SAELens and circuit-tracer themselves (src/test/resources/transcoder/anchors, written by
 * make_anchor_fixtures.py beside them in exactly those tools' layouts) load, and compute what those tools compute:
 * expected.json holds their forward formulas' outputs for a few inputs.
 */
class AnchorFixturesTest {

    @TempDir Path tmp;

    static final double U = 0x1p-24;

    static Path anchors() {
        try {
            return Path.of(AnchorFixturesTest.class.getResource("/transcoder/anchors").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonObject expected() throws IOException {
        return JsonParser.parseString(Files.readString(anchors().resolve("expected.json"))).getAsJsonObject();
    }

    static Stream<String> fixtures() throws IOException {
        return expected().getAsJsonObject("fixtures").keySet().stream();
    }

    static Transcoder load(JsonObject f) {
        Path path = anchors().resolve(f.get("path").getAsString());
        if (f.get("anchor").getAsString().equals("sae_lens")) {
            return SaeLensTranscoder.load(path, Device.cpu());
        }
        return CircuitTracerTranscoder.load(path, f.get("layer").getAsInt(), setConfig(f, f.get("activation")
                .getAsString()), Device.cpu());
    }

    static CircuitTracerTranscoder.SetConfig setConfig(JsonObject f, String activation) {
        return new CircuitTracerTranscoder.SetConfig(f.get("model_name").getAsString(),
                f.get("feature_input_hook").getAsString(), f.get("feature_output_hook").getAsString(), activation,
                null);
    }

    static float[] flat(JsonArray rows) {
        int cols = rows.get(0).getAsJsonArray().size();
        float[] out = new float[rows.size() * cols];
        for (int r = 0; r < rows.size(); r++) {
            JsonArray row = rows.get(r).getAsJsonArray();
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = (float) row.get(c).getAsDouble();
            }
        }
        return out;
    }

    static double[] flatDouble(JsonArray rows) {
        int cols = rows.get(0).getAsJsonArray().size();
        double[] out = new double[rows.size() * cols];
        for (int r = 0; r < rows.size(); r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = rows.get(r).getAsJsonArray().get(c).getAsDouble();
            }
        }
        return out;
    }

    /**
     * The script computes each expected output exactly (float64 from fp32 inputs and weights: bf16 and fp32 values
     * are exact in fp32, and float64 products of fp32 values are exact, leaving only negligible summation error).
     * Java computes it in fp32: a sum of n terms, each a product, is within gamma_n * sum|term| of the exact value,
     * gamma_n = n u / (1 - n u), whatever the summation order (Higham 3.1). encode has d_in products and a bias
     * (n = d_in + 1), forward d_sae products, a bias and d_in skip products (n = d_in + d_sae + 1); 3 more roundings
     * cover folding (the TopK decoder norms are multiplied into W_enc and b_enc and divided out of W_dec, in fp32).
     * forward_scale already carries z's own error through |W_dec|, and the factor 2 the second-order terms. The
     * script keeps every pre-activation at least 1e-3 from the decision it feeds (threshold, 0, the k-th largest),
     * far above these bounds, so fp32 and exact arithmetic choose the same features; that is asserted too.
     */
    static double tolerance(int terms, double scale) {
        int n = terms + 3;
        return 2 * n * U / (1 - n * U) * scale;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void loadsAndComputesWhatTheAnchorComputes(String name) throws Exception {
        JsonObject all = expected();
        JsonObject f = all.getAsJsonObject("fixtures").getAsJsonObject(name);
        int dIn = all.get("d_in").getAsInt();
        int dOut = all.get("d_out").getAsInt();
        int dSae = all.get("d_sae").getAsInt();
        float[] x = flat(f.getAsJsonArray("x"));
        int rows = f.getAsJsonArray("x").size();
        double[] z = flatDouble(f.getAsJsonArray("encode"));
        double[] y = flatDouble(f.getAsJsonArray("forward"));
        double[] zScale = flatDouble(f.getAsJsonArray("encode_scale"));
        double[] yScale = flatDouble(f.getAsJsonArray("forward_scale"));
        Path ours = tmp.resolve("ours");
        float[] gotZ;
        float[] gotY;
        try (Transcoder t = load(f); NDManager m = NDManager.newBaseManager()) {
            TranscoderConfig c = t.config();
            assertThat(c.layer()).isEqualTo(all.get("layer").getAsInt());
            assertThat(c.modelName()).isEqualTo(all.get("model_name").getAsString());
            assertThat(new int[] {c.dIn(), c.dOut(), c.dSae()}).containsExactly(dIn, dOut, dSae);
            assertThat(t.scaling().folded()).isTrue();
            assertThat(t.provenance().isImported()).isTrue();
            assertThat(t.provenance().configHash()).startsWith("imported:" + f.get("anchor").getAsString());
            if (f.has("architecture")) {
                assertThat(c.architecture().saeLensArchitecture(c.kind()))
                        .isEqualTo(f.get("architecture").getAsString());
            } else {
                assertThat(c.architecture().circuitTracerActivation()).isEqualTo(f.get("activation").getAsString());
            }

            var in = m.create(x, new Shape(rows, dIn));
            gotZ = t.encode(in).toFloatArray();
            gotY = t.forward(in).toFloatArray();
            for (int i = 0; i < z.length; i++) {
                assertThat((double) gotZ[i]).as("encode %d", i).isCloseTo(z[i], within(tolerance(dIn + 1, zScale[i])));
                assertThat(gotZ[i] != 0).as("feature %d active", i).isEqualTo(z[i] != 0);
            }
            for (int i = 0; i < y.length; i++) {
                assertThat((double) gotY[i]).as("forward %d", i)
                        .isCloseTo(y[i], within(tolerance(dIn + dSae + 1, yScale[i])));
            }
            t.save(ours);
        }
        // in our layout it is the same transcoder, bit for bit
        try (Transcoder again = Transcoder.load(ours, Device.cpu()); NDManager m = NDManager.newBaseManager();
                Transcoder first = load(f)) {
            assertThat(again.config()).isEqualTo(first.config());
            assertThat(again.provenance()).isEqualTo(first.provenance());
            var in = m.create(x, new Shape(rows, dIn));
            assertThat(again.encode(in).toFloatArray()).containsExactly(gotZ);
            assertThat(again.forward(in).toFloatArray()).containsExactly(gotY);
        }
    }

    @Test
    void saeLensJumpReluReadsANegativeThresholdAsZero() throws Exception {
        Path dir = anchors().resolve("sae_lens_jumprelu_transcoder");
        try (Transcoder t = SaeLensTranscoder.load(dir, Device.cpu());
                SafetensorsReader r = SafetensorsReader.open(dir.resolve("sae_weights.safetensors"))) {
            float[] stored = r.readFloats("threshold");
            float[] loaded = t.weight("threshold").toFloatArray();
            int negative = 0;
            for (int i = 0; i < stored.length; i++) {
                negative += stored[i] < 0 ? 1 : 0;
                assertThat(loaded[i]).isEqualTo(Math.max(stored[i], 0f));
            }
            assertThat(negative).as("the fixture has negative thresholds").isPositive();
        }
        // circuit-tracer's JumpReLU is ours, so its thresholds are read as they are
        Path ct = anchors().resolve("circuit_tracer_jump_relu_skip.safetensors");
        JsonObject f = expected().getAsJsonObject("fixtures").getAsJsonObject("circuit_tracer_jump_relu_skip");
        try (Transcoder t = CircuitTracerTranscoder.load(ct, 3, setConfig(f, null), Device.cpu());
                SafetensorsReader r = SafetensorsReader.open(ct)) {
            assertThat(t.activation()).as("decided by the threshold tensor").isEqualTo(Activation.JUMPRELU);
            assertThat(t.weight("threshold").toFloatArray())
                    .containsExactly(r.readFloats("activation_function.threshold"));
            assertThat(t.weight("W_skip").toFloatArray()).containsExactly(r.readFloats("W_skip"));
        }
    }

    /** Copies a SAELens fixture into tmp with its cfg.json edited. */
    Path saeLensCopy(String fixture, UnaryOperator<String> editCfg) throws IOException {
        Path src = anchors().resolve(fixture);
        Path dst = tmp.resolve(fixture + "-" + System.nanoTime());
        Files.createDirectories(dst);
        Files.copy(src.resolve("sae_weights.safetensors"), dst.resolve("sae_weights.safetensors"));
        Files.writeString(dst.resolve("cfg.json"), editCfg.apply(Files.readString(src.resolve("cfg.json"))));
        return dst;
    }

    /** Rewrites a weights file with one tensor dropped, replaced by another shape, or one added. */
    static void rewrite(Path file, String drop, String reshape, String add) {
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (String n : r.names()) {
                long[] s = r.info(n).shape();
                if (n.equals(drop)) {
                    continue;
                }
                float[] v = r.readFloats(n);
                w.add(n, v, n.equals(reshape) ? new long[] {s[1], s[0]} : s, SafetensorsDType.F32);
            }
        }
        if (add != null) {
            w.add(add, new float[1], new long[] {1}, SafetensorsDType.F32);
        }
        w.write(file);
    }

    @Test
    void saeLensErrorsNameTheFileAndTheKey() throws Exception {
        assertThatThrownBy(() -> SaeLensTranscoder.load(tmp, Device.cpu()))
                .hasMessageContaining(tmp + " is not a SAELens folder: it needs cfg.json and sae_weights.safetensors");
        String jr = "sae_lens_jumprelu_transcoder";
        Path gated = saeLensCopy(jr, s -> s.replace("\"architecture\": \"jumprelu_transcoder\"",
                "\"architecture\": \"gated\""));
        assertThatThrownBy(() -> SaeLensTranscoder.load(gated, Device.cpu()))
                .hasMessageContaining(gated.resolve("cfg.json") + ": architecture gated is not one this loader reads");
        Path norm = saeLensCopy(jr, s -> s.replace("\"normalize_activations\": \"none\"",
                "\"normalize_activations\": \"expected_average_only_in\""));
        assertThatThrownBy(() -> SaeLensTranscoder.load(norm, Device.cpu()))
                .hasMessageContaining("normalize_activations is expected_average_only_in; need none");
        Path centred = saeLensCopy("sae_lens_topk_sae", s -> s.replace("\"apply_b_dec_to_input\": false",
                "\"apply_b_dec_to_input\": true"));
        assertThatThrownBy(() -> SaeLensTranscoder.load(centred, Device.cpu()))
                .hasMessageContaining("apply_b_dec_to_input is true; need false");
        Path resid = saeLensCopy(jr, s -> s.replace("blocks.3.ln2.hook_normalized", "blocks.3.hook_resid_mid"));
        assertThatThrownBy(() -> SaeLensTranscoder.load(resid, Device.cpu()))
                .hasMessageContaining("hooks blocks.3.hook_resid_mid -> blocks.3.hook_mlp_out")
                .hasMessageContaining("must read blocks.3.ln2.hook_normalized");
        Path old = saeLensCopy(jr, s -> s.replaceFirst("\"metadata\": \\{[^}]*\\}, ", ""));
        assertThatThrownBy(() -> SaeLensTranscoder.load(old, Device.cpu()))
                .hasMessageContaining("lacks key metadata: written by SAELens before 6?");

        Path noThreshold = saeLensCopy(jr, s -> s);
        rewrite(noThreshold.resolve("sae_weights.safetensors"), "threshold", null, null);
        assertThatThrownBy(() -> SaeLensTranscoder.load(noThreshold, Device.cpu()))
                .hasMessageContaining(noThreshold.resolve("sae_weights.safetensors") + " lacks tensor threshold");
        Path transposed = saeLensCopy(jr, s -> s);
        rewrite(transposed.resolve("sae_weights.safetensors"), null, "W_enc", null);
        assertThatThrownBy(() -> SaeLensTranscoder.load(transposed, Device.cpu()))
                .hasMessageContaining("tensor W_enc has shape [16, 8]; expected [d_in, d_sae] = [8, 16]");
        Path extra = saeLensCopy("sae_lens_transcoder", s -> s);
        rewrite(extra.resolve("sae_weights.safetensors"), null, null, "W_skip");
        assertThatThrownBy(() -> SaeLensTranscoder.load(extra, Device.cpu()))
                .hasMessageContaining("unexpected tensors [W_skip] for SAELens architecture transcoder");
    }

    @Test
    void circuitTracerErrorsNameTheFileAndTheKey() throws Exception {
        JsonObject f = expected().getAsJsonObject("fixtures").getAsJsonObject("circuit_tracer_jump_relu_skip");
        Path file = anchors().resolve("circuit_tracer_jump_relu_skip.safetensors");
        assertThatThrownBy(() -> CircuitTracerTranscoder.load(file, 3, setConfig(f, "relu"), Device.cpu()))
                .hasMessageContaining(file + " holds activation_function.threshold but the set's activation is relu");
        assertThatThrownBy(() -> CircuitTracerTranscoder.load(file, 3, setConfig(f, "gelu"), Device.cpu()))
                .hasMessageContaining("activation gelu is not relu, topk or jump_relu");
        var resid = new CircuitTracerTranscoder.SetConfig("m", "hook_resid_mid", "hook_mlp_out", null, null);
        assertThatThrownBy(() -> CircuitTracerTranscoder.load(file, 3, resid, Device.cpu()))
                .hasMessageContaining("hooks blocks.3.hook_resid_mid -> blocks.3.hook_mlp_out");
        Path missing = tmp.resolve("layer_3.safetensors");
        assertThatThrownBy(() -> CircuitTracerTranscoder.load(missing, 3, setConfig(f, null), Device.cpu()))
                .hasMessageContaining("weights file not found: " + missing);
        Path relu = anchors().resolve("circuit_tracer_relu_bf16.safetensors");
        assertThatThrownBy(() -> CircuitTracerTranscoder.load(relu, 3, setConfig(f, "jump_relu"), Device.cpu()))
                .hasMessageContaining(relu + " lacks tensor activation_function.threshold");
        assertThatThrownBy(() -> CircuitTracerTranscoder.load(relu, 3, setConfig(f, "topk"), Device.cpu()))
                .hasMessageContaining("activation topk needs k");

        // a TopK file: k from the tensor to_safetensors writes
        Path topk = tmp.resolve("topk.safetensors");
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsReader r = SafetensorsReader.open(relu)) {
            for (String n : r.names()) {
                w.add(n, r.readFloats(n), r.info(n).shape(), SafetensorsDType.F32);
            }
        }
        w.add("k", new long[] {4}, new long[0]);
        w.write(topk);
        try (Transcoder t = CircuitTracerTranscoder.load(topk, 3, setConfig(f, null), Device.cpu())) {
            assertThat(t.activation()).isEqualTo(Activation.TOPK);
            assertThat(t.config().architecture().k()).isEqualTo(4);
        }
        var disagree = new CircuitTracerTranscoder.SetConfig("m", "ln2.hook_normalized", "hook_mlp_out", "topk", 5);
        assertThatThrownBy(() -> CircuitTracerTranscoder.load(topk, 3, disagree, Device.cpu()))
                .hasMessageContaining("tensor k is 4 but the set config's k is 5");
    }
}
