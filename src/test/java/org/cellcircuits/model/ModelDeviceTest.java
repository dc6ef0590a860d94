package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.engine.Engine;
import org.cellcircuits.runtime.TaskDevice;
import org.junit.jupiter.api.Test;

class ModelDeviceTest {

    @Test
    void optionsResolveOnACpuOnlyMachine() {
        assertThat(ModelDevice.resolve("cpu", () -> 0)).isEqualTo(Device.cpu());
        // outside a Spark task there is no assigned GPU: auto is the CPU
        assertThat(TaskDevice.sparkTaskGpu()).isNull();
        assertThat(TaskDevice.resolve("auto")).isEqualTo(Device.cpu());
        assertThat(ModelDevice.resolve("auto", () -> null)).isEqualTo(Device.cpu());
        assertThatThrownBy(() -> ModelDevice.resolve("auto", () -> 3)).hasMessageContaining("asks for GPU 3");
        assertThat(Engine.getEngine("PyTorch").getGpuCount()).isZero();
        assertThatThrownBy(() -> ModelDevice.resolve("gpu:1", () -> null)).hasMessageContaining("asks for GPU 1")
                .hasMessageContaining("sees 0 GPU(s)").hasMessageContaining("PYTORCH_LIBRARY_PATH");
        assertThatThrownBy(() -> ModelDevice.resolve("gpu:x", () -> null)).hasMessageContaining("x is not a GPU index");
        assertThatThrownBy(() -> ModelDevice.resolve("tpu", () -> null))
                .hasMessageContaining("not one of auto, cpu, gpu, gpu:N");
    }

    @Test
    void halfPrecisionIsRefusedOnCpu() {
        assertThat(Precision.parse("auto", Device.cpu())).isEqualTo(Precision.FP32);
        assertThat(Precision.parse("auto", Device.gpu(0))).isEqualTo(Precision.BF16);
        assertThatThrownBy(() -> GptNeoX.load(NeoXFixtures.folder("bf16"), Device.cpu(), Precision.BF16))
                .hasMessageContaining("precision bf16 is only supported on GPU");
        assertThat(Precision.parse(" BFloat16 ", Device.gpu(0))).isEqualTo(Precision.BF16);
        assertThatThrownBy(() -> Precision.parse("int8", Device.cpu())).hasMessage("cellcircuits.model.precision is "
                + "invalid: 'int8'; need one of auto, fp32, fp16, bf16, float32, float16, bfloat16");
    }
}
