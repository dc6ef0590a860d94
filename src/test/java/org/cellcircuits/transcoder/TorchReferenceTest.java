package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Six training steps against PyTorch: the same initial weights and batches, the loss written as a forward pass and
 * differentiated by torch autograd, torch.optim.Adam with the schedule's lr and lambda, in float64
 * (src/test/resources/transcoder/make_torch_reference.py). Checks the gradients, the Adam update, both schedules
 * and the input/target scaling together; our side runs in float32.
 */
class TorchReferenceTest {

    @Test
    void sixStepsMatchTorchAutogradAndTorchAdam() throws Exception {
        JsonObject ref;
        try (InputStream in = getClass().getResourceAsStream("/transcoder/torch_reference.json")) {
            ref = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
        }
        int dIn = ref.get("d_in").getAsInt();
        int dOut = ref.get("d_out").getAsInt();
        int rows = ref.get("rows").getAsInt();
        int steps = ref.get("steps").getAsInt();
        TranscoderConfig c = TranscoderConfig.builder().modelName("torch-reference").layer(0).dIn(dIn).dOut(dOut)
                .dSae(ref.get("d_sae").getAsInt()).trainingTokens((long) rows * steps).trainBatchSizeTokens(rows)
                .lr(ref.get("lr").getAsDouble()).lrEnd(ref.get("lr_end").getAsDouble())
                .lrWarmUpSteps(ref.get("lr_warm_up_steps").getAsInt()).lrDecaySteps(ref.get("lr_decay_steps").getAsInt())
                .l1Coefficient(ref.get("l1_coefficient").getAsDouble())
                .l1WarmUpSteps(ref.get("l1_warm_up_steps").getAsInt()).resampleDeadFeatures(false)
                .inputScale(ref.get("input_scale").getAsDouble()).targetScale(ref.get("target_scale").getAsDouble())
                .build();
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu()); NDManager m = NDManager.newBaseManager()) {
            for (String name : Transcoder.PARAMETER_NAMES) {
                t.parameter(name).set(floats(ref.getAsJsonObject("init").getAsJsonArray(name)));
            }
            for (int s = 0; s < steps; s++) {
                float[] x = floats(ref.getAsJsonArray("inputs").get(s).getAsJsonArray());
                float[] y = floats(ref.getAsJsonArray("targets").get(s).getAsJsonArray());
                StepRecord r = t.step(new TrainingBatch(m.create(x, new Shape(rows, dIn)), m.create(y, new Shape(rows, dOut))));
                double expected = ref.getAsJsonArray("losses").get(s).getAsDouble();
                assertThat(r.loss()).as("loss at step %d", s).isCloseTo(expected, within(1e-5 * expected));
            }
            for (String name : List.of("W_enc", "b_enc", "W_dec", "b_dec")) {
                float[] got = t.parameter(name).toFloatArray();
                JsonArray want = ref.getAsJsonObject("final").getAsJsonArray(name);
                float[] init = floats(ref.getAsJsonObject("init").getAsJsonArray(name));
                double moved = 0;
                for (int i = 0; i < got.length; i++) {
                    double w = want.get(i).getAsDouble();
                    moved = Math.max(moved, Math.abs(w - init[i]));
                    assertThat((double) got[i]).as("%s[%d]", name, i).isCloseTo(w, within(2e-6));
                }
                assertThat(moved).as("%s moved during the six steps", name).isGreaterThan(1e-3);
            }
        }
    }

    static float[] floats(JsonArray a) {
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) a.get(i).getAsDouble();
        }
        return v;
    }
}
