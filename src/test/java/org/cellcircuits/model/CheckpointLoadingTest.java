package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint folders in their other shapes (sharded, re-saved, broken) load the same model or fail clearly. */
class CheckpointLoadingTest {

    static final List<long[]> SEQS = List.of(new long[] {5, 17, 3, 88, 41}, new long[] {12, 7});

    @TempDir
    Path dir;

    static float[] logits(GptNeoX model) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
                ActivationCache c = model.run(m, TokenBatch.rightPadded(SEQS, 0), ForwardOptions.logitsOnly())) {
            return c.logits().toFloatArray();
        }
    }

    private void copyConfig(String variant, Path to) throws IOException {
        Files.createDirectories(to);
        Files.copy(NeoXFixtures.folder(variant).resolve("config.json"), to.resolve("config.json"));
    }

    @Test
    void shardedCheckpointLoadsTheSameModel() throws IOException {
        Path sharded = dir.resolve("sharded");
        copyConfig("parallel_rot25", sharded);
        StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        try (SafetensorsReader single = SafetensorsReader.open(NeoXFixtures.folder("parallel_rot25"))) {
            SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
            int i = 0;
            for (String name : single.names()) {
                int shard = i++ % 2;
                shards[shard].add(name, single.readFloats(name), single.info(name).shape(), SafetensorsDType.F32);
                index.append(i > 1 ? "," : "").append('"').append(name).append("\":\"model-0000").append(shard + 1).append("-of-00002.safetensors\"");
            }
            shards[0].write(sharded.resolve("model-00001-of-00002.safetensors"));
            shards[1].write(sharded.resolve("model-00002-of-00002.safetensors"));
        }
        Files.writeString(sharded.resolve("model.safetensors.index.json"), index.append("}}").toString());
        try (GptNeoX a = GptNeoX.load(NeoXFixtures.folder("parallel_rot25"), Device.cpu());
                GptNeoX b = GptNeoX.load(sharded, Device.cpu())) {
            assertThat(logits(b)).containsExactly(logits(a));
        }
    }

    @Test
    void savedModelLoadsBackInEveryFloatFormat() {
        try (GptNeoX original = GptNeoX.load(NeoXFixtures.folder("tied"), Device.cpu())) {
            float[] expected = logits(original);
            for (SafetensorsDType dtype : new SafetensorsDType[] {SafetensorsDType.F32, SafetensorsDType.F16, SafetensorsDType.BF16}) {
                Path out = dir.resolve(dtype.name());
                original.save(out, dtype);
                try (GptNeoX reloaded = GptNeoX.load(out, Device.cpu());
                        SafetensorsReader r = SafetensorsReader.open(out)) {
                    assertThat(reloaded.config()).isEqualTo(original.config());
                    assertThat(r.names()).doesNotContain("embed_out.weight"); // tied: one copy, as HF saves it
                    assertThat(r.info("gpt_neox.embed_in.weight").dtype()).isEqualTo(dtype);
                    float[] got = logits(reloaded);
                    double tol = dtype == SafetensorsDType.F32 ? 0 : dtype == SafetensorsDType.F16 ? 0.05 : 0.3;
                    for (int i = 0; i < got.length; i++) {
                        assertThat((double) Math.abs(got[i] - expected[i])).as("%s logit %d", dtype, i).isLessThanOrEqualTo(tol);
                    }
                }
            }
        }
    }

    @Test
    void pickleOnlyFolderExplainsHowToConvert() throws IOException {
        Path folder = dir.resolve("pickle");
        copyConfig("parallel_rot25", folder);
        Files.write(folder.resolve("pytorch_model.bin"), new byte[] {0});
        assertThatThrownBy(() -> GptNeoX.load(folder, Device.cpu()))
                .hasMessageContaining("pytorch_model.bin")
                .hasMessageContaining("jobs/convert-checkpoint " + folder + " ")
                .hasMessageContaining("save_pretrained(\"" + folder + "\", safe_serialization=True)")
                .hasMessageContaining("safetensors.torch import save_file");
    }

    @Test
    void missingOrMisshapedTensorsAreNamedWithTheExpectedShapeAndFile() throws IOException {
        String victim = "gpt_neox.layers.1.mlp.dense_4h_to_h.weight";
        try (SafetensorsReader single = SafetensorsReader.open(NeoXFixtures.folder("parallel_rot25"))) {
            Path missing = dir.resolve("missing");
            Path misshaped = dir.resolve("misshaped");
            copyConfig("parallel_rot25", missing);
            copyConfig("parallel_rot25", misshaped);
            SafetensorsWriter a = new SafetensorsWriter();
            SafetensorsWriter b = new SafetensorsWriter();
            for (String name : single.names()) {
                float[] v = single.readFloats(name);
                long[] shape = single.info(name).shape();
                if (!name.equals(victim)) {
                    a.add(name, v, shape, SafetensorsDType.F32);
                    b.add(name, v, shape, SafetensorsDType.F32);
                } else {
                    b.add(name, v, new long[] {shape[1], shape[0]}, SafetensorsDType.F32);
                }
            }
            a.write(missing.resolve("model.safetensors"));
            b.write(misshaped.resolve("model.safetensors"));
            assertThatThrownBy(() -> GptNeoX.load(missing, Device.cpu()))
                    .hasMessageContaining("lacks tensor " + victim).hasMessageContaining("(64, 256)")
                    .hasMessageContaining(missing.resolve("model.safetensors").toString());
            assertThatThrownBy(() -> GptNeoX.load(misshaped, Device.cpu()))
                    .hasMessageContaining("tensor " + victim).hasMessageContaining("[256, 64]")
                    .hasMessageContaining("implies (64, 256)").hasMessageContaining(misshaped.resolve("model.safetensors").toString());
        }
        assertThatThrownBy(() -> GptNeoX.load(dir, Device.cpu())).hasMessageContaining("no config.json");
    }

    @Test
    void initializedModelFollowsHfInitAndTrainsFromScratch() {
        NeoXConfig config = new NeoXConfig(32, 4, 2, 128, 0.25, 10000, true, 1e-5, 50, 32, false, true, 0);
        try (GptNeoX model = GptNeoX.initialize(config, Device.cpu(), 1)) {
            Map<String, ai.djl.ndarray.NDArray> p = model.parameters();
            assertThat(p.keySet()).containsExactlyElementsOf(GptNeoX.parameterShapes(config).keySet());
            assertThat(p.get("gpt_neox.layers.0.input_layernorm.weight").toFloatArray()).containsOnly(1f);
            assertThat(p.get("gpt_neox.layers.0.mlp.dense_h_to_4h.bias").toFloatArray()).containsOnly(0f);
            float[] w = p.get("gpt_neox.layers.0.attention.query_key_value.weight").toFloatArray();
            double ss = 0;
            for (float f : w) {
                ss += f * f;
            }
            assertThat(Math.sqrt(ss / w.length)).isBetween(0.018, 0.022);
        }
    }
}
