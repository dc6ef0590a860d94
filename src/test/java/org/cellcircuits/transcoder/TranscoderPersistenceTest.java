package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.model.TokenBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TranscoderPersistenceTest {

    @TempDir Path tmp;

    static final int D_IN = 6;
    static final int D_OUT = 5;
    static final int D_SAE = 10;

    static TranscoderConfig config(int dIn, int dOut, int dSae, int layer) {
        return TranscoderConfig.builder().modelName("demo-c2s").layer(layer).dIn(dIn).dOut(dOut).dSae(dSae)
                .trainingTokens(4096L * 100).lrWarmUpSteps(10).lrDecaySteps(20).l1WarmUpSteps(5).build();
    }

    static float[] random(Random r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * scale);
        }
        return v;
    }

    /** An unfolded transcoder with s_in = 2, s_out = 0.5 and random weights. */
    static Transcoder randomTranscoder(TranscoderConfig c, long seed) {
        Random r = new Random(seed);
        TrainingProvenance p = new TrainingProvenance(123, 456_789, c.hash(), SoftwareVersions.current());
        return Transcoder.of(c, new ActivationScaling(2.0, 0.5, false), p, Device.cpu(),
                random(r, c.dIn() * c.dSae(), 0.5), random(r, c.dSae(), 0.3), random(r, c.dSae() * c.dOut(), 0.5),
                random(r, c.dOut(), 0.2));
    }

    @Test
    void savedWeightsAreTheFoldedWeightsAndLoadRoundTripsExactly() throws Exception {
        TranscoderConfig c = config(D_IN, D_OUT, D_SAE, 4);
        Path dir = tmp.resolve("layer=4");
        Path again = tmp.resolve("again");
        try (Transcoder t = randomTranscoder(c, 1)) {
            t.save(dir);
            try (Transcoder loaded = Transcoder.load(dir, Device.cpu())) {
                assertThat(loaded.config()).isEqualTo(c);
                assertThat(loaded.scaling()).isEqualTo(new ActivationScaling(2.0, 0.5, true));
                assertThat(loaded.provenance()).isEqualTo(t.provenance());
                float[] we = t.weight("W_enc").toFloatArray();
                float[] wd = t.weight("W_dec").toFloatArray();
                float[] bd = t.weight("b_dec").toFloatArray();
                for (int i = 0; i < we.length; i++) {
                    we[i] *= 2.0f;
                }
                for (int i = 0; i < wd.length; i++) {
                    wd[i] /= 0.5f;
                }
                for (int i = 0; i < bd.length; i++) {
                    bd[i] /= 0.5f;
                }
                assertThat(loaded.weight("W_enc").toFloatArray()).containsExactly(we);
                assertThat(loaded.weight("b_enc").toFloatArray()).containsExactly(t.weight("b_enc").toFloatArray());
                assertThat(loaded.weight("W_dec").toFloatArray()).containsExactly(wd);
                assertThat(loaded.weight("b_dec").toFloatArray()).containsExactly(bd);
                loaded.save(again);
            }
        }
        assertThat(Files.readAllBytes(again.resolve("weights.safetensors")))
                .isEqualTo(Files.readAllBytes(dir.resolve("weights.safetensors")));
        assertThat(Files.readString(again.resolve("cfg.json"))).isEqualTo(Files.readString(dir.resolve("cfg.json")));
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("weights.safetensors"))) {
            assertThat(r.names()).containsExactly("W_enc", "b_enc", "W_dec", "b_dec");
            assertThat(r.info("W_enc").shape()).containsExactly(D_IN, D_SAE);
            assertThat(r.info("b_enc").shape()).containsExactly(D_SAE);
            assertThat(r.info("W_dec").shape()).containsExactly(D_SAE, D_OUT);
            assertThat(r.info("b_dec").shape()).containsExactly(D_OUT);
            assertThat(r.info("W_dec").dtype()).isEqualTo(SafetensorsDType.F32);
            assertThat(r.metadata()).containsEntry("format", "pt").containsEntry("cellcircuits_config_hash", c.hash());
        }
    }

    @Test
    void cfgJsonCarriesTheSaeLensAndCircuitTracerKeys() throws Exception {
        TranscoderConfig c = config(D_IN, D_OUT, D_SAE, 4);
        try (Transcoder t = randomTranscoder(c, 2)) {
            t.save(tmp);
        }
        JsonObject cfg = JsonParser.parseString(Files.readString(tmp.resolve("cfg.json"))).getAsJsonObject();
        // SAELens v6 SAEConfig + TranscoderConfig (sae_lens/saes/sae.py, sae_lens/saes/transcoder.py)
        assertThat(cfg.keySet()).contains("architecture", "d_in", "d_sae", "d_out", "dtype", "device",
                "apply_b_dec_to_input", "normalize_activations", "reshape_activations", "metadata");
        assertThat(cfg.get("architecture").getAsString()).isEqualTo("transcoder");
        assertThat(cfg.get("d_in").getAsInt()).isEqualTo(D_IN);
        assertThat(cfg.get("d_out").getAsInt()).isEqualTo(D_OUT);
        assertThat(cfg.get("d_sae").getAsInt()).isEqualTo(D_SAE);
        assertThat(cfg.get("dtype").getAsString()).isEqualTo("float32");
        assertThat(cfg.get("apply_b_dec_to_input").getAsBoolean()).isFalse();
        assertThat(cfg.get("normalize_activations").getAsString()).isEqualTo("none");
        JsonObject meta = cfg.getAsJsonObject("metadata");
        assertThat(meta.get("model_name").getAsString()).isEqualTo("demo-c2s");
        assertThat(meta.get("hook_name").getAsString()).isEqualTo("blocks.4.ln2.hook_normalized");
        assertThat(meta.get("hook_name_out").getAsString()).isEqualTo("blocks.4.hook_mlp_out");
        assertThat(meta.get("hook_layer").getAsInt()).isEqualTo(4);
        // circuit-tracer (circuit_tracer/utils/hf_utils.py load_transcoders)
        assertThat(cfg.get("feature_input_hook").getAsString()).isEqualTo("ln2.hook_normalized");
        assertThat(cfg.get("feature_output_hook").getAsString()).isEqualTo("hook_mlp_out");
        assertThat(cfg.get("activation").getAsString()).isEqualTo("relu");
        // ours
        JsonObject scaling = cfg.getAsJsonObject("scaling_factors");
        assertThat(scaling.get("input").getAsDouble()).isEqualTo(2.0);
        assertThat(scaling.get("target").getAsDouble()).isEqualTo(0.5);
        assertThat(scaling.get("folded_into_weights").getAsBoolean()).isTrue();
        JsonObject training = cfg.getAsJsonObject("training");
        assertThat(training.get("l1_coefficient").getAsDouble()).isEqualTo(1.4e-4);
        assertThat(training.get("lr").getAsDouble()).isEqualTo(3e-4);
        assertThat(training.get("kind").getAsString()).isEqualTo("transcoder");
        assertThat(cfg.get("training_steps").getAsLong()).isEqualTo(123);
        assertThat(cfg.get("tokens_seen").getAsLong()).isEqualTo(456_789);
        JsonObject provenance = cfg.getAsJsonObject("provenance");
        assertThat(provenance.get("config_hash").getAsString()).isEqualTo(c.hash()).hasSize(64);
        assertThat(provenance.get("seed").getAsLong()).isEqualTo(42);
        assertThat(provenance.get("djl").getAsString()).isEqualTo("0.36.0");
    }

    @Test
    void forwardIsTheTranscoderFormulaInModelUnitsFoldedOrNot() {
        TranscoderConfig c = config(D_IN, D_OUT, D_SAE, 0);
        Random r = new Random(3);
        int rows = 9;
        float[] x = random(r, rows * D_IN, 1.0);
        try (Transcoder t = randomTranscoder(c, 3); Transcoder folded = t.folded();
                NDManager m = NDManager.newBaseManager()) {
            float[] we = t.weight("W_enc").toFloatArray();
            float[] be = t.weight("b_enc").toFloatArray();
            float[] wd = t.weight("W_dec").toFloatArray();
            float[] bd = t.weight("b_dec").toFloatArray();
            NDArray in = m.create(x, new Shape(rows, D_IN));
            float[] z = t.encode(in).toFloatArray();
            float[] y = t.forward(in).toFloatArray();
            float[] zf = folded.encode(in).toFloatArray();
            float[] yf = folded.forward(in).toFloatArray();
            for (int b = 0; b < rows; b++) {
                double[] zz = new double[D_SAE];
                for (int i = 0; i < D_SAE; i++) {
                    double pre = be[i];
                    for (int j = 0; j < D_IN; j++) {
                        pre += 2.0 * x[b * D_IN + j] * we[j * D_SAE + i];
                    }
                    zz[i] = Math.max(0, pre);
                    assertThat((double) z[b * D_SAE + i]).isCloseTo(zz[i], within(1e-5));
                    assertThat((double) zf[b * D_SAE + i]).isCloseTo(zz[i], within(1e-5));
                }
                for (int k = 0; k < D_OUT; k++) {
                    double v = bd[k];
                    for (int i = 0; i < D_SAE; i++) {
                        v += zz[i] * wd[i * D_OUT + k];
                    }
                    v /= 0.5;
                    assertThat((double) y[b * D_OUT + k]).isCloseTo(v, within(1e-5 * Math.max(1, Math.abs(v))));
                    assertThat((double) yf[b * D_OUT + k]).isCloseTo(v, within(1e-5 * Math.max(1, Math.abs(v))));
                }
            }
            // (B, T, d_in) inputs, as a block's MLP receives them
            float[] y3 = t.forward(in.get("0:8").reshape(2, 4, D_IN)).toFloatArray();
            for (int i = 0; i < 8 * D_OUT; i++) {
                assertThat(y3[i]).isEqualTo(y[i]);
            }
            assertThatThrownBy(() -> t.forward(m.zeros(new Shape(3, D_IN + 1))))
                    .hasMessageContaining("has shape (3, 7); the transcoder needs its last dimension to be 6");
        }
    }

    @Test
    void replacesABlocksMlpInGptNeoX() {
        NeoXConfig neox = new NeoXConfig(32, 4, 2, 128, 0.25, 10000, true, 1e-5, 257, 256, false, true, 256);
        TranscoderConfig c = config(32, 32, 64, 1);
        long[][] ids = {{5, 17, 200, 3, 9, 44}, {8, 8, 100, 250, 1, 0}};
        long[][] mask = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0}};
        TokenBatch batch = TokenBatch.of(ids, mask);
        try (GptNeoX model = GptNeoX.initialize(neox, Device.cpu(), 5);
                Transcoder t = randomTranscoder(c, 4);
                NDManager m = NDManager.newBaseManager()) {
            ForwardOptions keep = ForwardOptions.logitsOnly().keeping(List.of(HookNames.mlpIn(1), HookNames.mlpOut(1)));
            try (ActivationCache plain = model.run(m, batch, keep);
                    ActivationCache replaced = model.run(m, batch, keep.replacingMlp(1, t))) {
                NDArray mlpIn = replaced.get(HookNames.mlpIn(1));
                assertThat(mlpIn.toFloatArray()).containsExactly(plain.get(HookNames.mlpIn(1)).toFloatArray());
                float[] expected = t.forward(mlpIn).toFloatArray();
                float[] got = replaced.get(HookNames.mlpOut(1)).toFloatArray();
                for (int i = 0; i < got.length; i++) {
                    assertThat((double) got[i]).isCloseTo(expected[i], within(1e-6));
                }
                double change = plain.logits().sub(replaced.logits()).abs().max().getFloat();
                assertThat(change).as("replacing the MLP changes the logits").isGreaterThan(1e-3);
            }
        }
        try (Transcoder sae = Transcoder.of(config(32, 32, 64, 1).toBuilder().kind(TranscoderKind.SAE).build(),
                new ActivationScaling(1, 1, true), TrainingProvenance.untrained(c), Device.cpu(), new float[32 * 64],
                new float[64], new float[64 * 32], new float[32]); NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> sae.apply(m.zeros(new Shape(1, 2, 32))))
                    .hasMessageContaining("layer 1's dictionary is an SAE");
        }
    }

    @Test
    void loadingNamesTheFileAndWhatIsWrong() throws Exception {
        assertThatThrownBy(() -> Transcoder.load(tmp, Device.cpu()))
                .hasMessageContaining("transcoder folder " + tmp + " has no cfg.json");
        Path small = tmp.resolve("small");
        Path big = tmp.resolve("big");
        try (Transcoder a = randomTranscoder(config(D_IN, D_OUT, D_SAE, 0), 5);
                Transcoder b = randomTranscoder(config(D_IN, D_OUT, 2 * D_SAE, 0), 6)) {
            a.save(small);
            b.save(big);
        }
        Files.copy(big.resolve("weights.safetensors"), small.resolve("weights.safetensors"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> Transcoder.load(small, Device.cpu()))
                .hasMessageContaining("tensor W_enc has shape [6, 20]")
                .hasMessageContaining("cfg.json says [6, 10]");
        // the top-level copy only; training.d_sae stays 20
        String cfg = Files.readString(big.resolve("cfg.json")).replaceFirst("\"d_sae\": 20,", "\"d_sae\": 21,");
        Files.writeString(big.resolve("cfg.json"), cfg);
        assertThatThrownBy(() -> Transcoder.load(big, Device.cpu()))
                .hasMessageContaining("d_sae is 21 but training.d_sae is 20");
    }
}
