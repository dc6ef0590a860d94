package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cellcircuits.io.SafetensorsReader;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Java forward against the reference forward of make_fixtures.py, hook by hook, on right- and left-padded
 * batches of sequences of different lengths, for parallel/sequential residual, partial/full rotary, tied/untied
 * embeddings and a BF16 checkpoint.
 */
class GptNeoXReferenceTest {

    static final double TOLERANCE = 1e-4;

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String v : NeoXFixtures.VARIANTS) {
            for (String side : new String[] {"right", "left"}) {
                out.add(Arguments.of(v, side));
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1}-padded")
    @MethodSource("cases")
    void everyHookAndTheLogitsMatchTheReference(String variant, String side) {
        try (GptNeoX model = GptNeoX.load(NeoXFixtures.folder(variant), Device.cpu());
                SafetensorsReader ref = SafetensorsReader.open(NeoXFixtures.folder(variant).resolve("reference.safetensors"));
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            TokenBatch batch = NeoXFixtures.batch(ref, side);
            List<String> hooks = ref.names().stream()
                    .filter(n -> n.startsWith(side + "."))
                    .map(n -> n.substring(side.length() + 1))
                    .filter(n -> !n.equals("input_ids") && !n.equals("attention_mask") && !n.equals("logits"))
                    .toList();
            // every hook the fixture has: embed, ln1, pattern, attn_out, ln2 (MLP in), mlp_out, resid_post per layer, ln_final
            assertThat(hooks).hasSize(2 + 6 * model.config().numLayers());
            try (ActivationCache cache = model.run(manager, batch, ForwardOptions.logitsOnly().keeping(hooks))) {
                List<String> checked = new ArrayList<>(hooks);
                checked.add("logits");
                for (String name : checked) {
                    NDArray actual = name.equals("logits") ? cache.logits() : cache.get(name);
                    long[] shape = ref.info(side + "." + name).shape();
                    assertThat(actual.getShape().getShape()).as(name + " shape").isEqualTo(shape);
                    double err = NeoXFixtures.maxAbsDiffOnRealTokens(actual.toFloatArray(),
                            ref.readFloats(side + "." + name), shape, batch, name.endsWith("hook_pattern"));
                    assertThat(err).as("%s %s-padded: max abs error of %s (shape %s)", variant, side, name, Arrays.toString(shape))
                            .isLessThanOrEqualTo(TOLERANCE);
                }
            }
        }
    }
}
