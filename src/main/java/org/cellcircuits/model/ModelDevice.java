package org.cellcircuits.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Chooses the device a model runs on. No Spark here: what {@code auto} means is the caller's; in a Spark task
 * ({@code org.cellcircuits.runtime.TaskDevice}) it is the GPU Spark assigned to the task
 * (spark.task.resource.gpu.amount), never a hard-coded index, so several tasks on one executor do not pile onto
 * GPU 0.
 */
public final class ModelDevice {

    private ModelDevice() {}

    /**
     * Resolves a device option: {@code auto} (the GPU {@code autoGpu} names, else CPU), {@code cpu},
     * {@code gpu} (GPU 0) or {@code gpu:N}.
     *
     * @param autoGpu the GPU index {@code auto} means, or null for CPU; asked only for {@code auto}
     */
    public static Device resolve(String option, Supplier<Integer> autoGpu) {
        String o = option.trim().toLowerCase(Locale.ROOT);
        if (o.equals("auto")) {
            Integer gpu = autoGpu.get();
            return gpu == null ? Device.cpu() : gpu(gpu, "the Spark task's resources");
        }
        if (o.equals("cpu")) {
            return Device.cpu();
        }
        if (o.equals("gpu")) {
            return gpu(0, "device option " + option);
        }
        if (o.startsWith("gpu:")) {
            try {
                return gpu(Integer.parseInt(o.substring(4)), "device option " + option);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(String.format("device option %s: %s is not a GPU index", option, o.substring(4)));
            }
        }
        throw new IllegalArgumentException(String.format("device option %s is not one of auto, cpu, gpu, gpu:N", option));
    }

    private static Device gpu(int index, String from) {
        int count = Engine.getInstance().getGpuCount();
        if (index < 0 || index >= count) {
            throw new IllegalArgumentException(String.format(
                    "%s asks for GPU %d, but the PyTorch engine sees %d GPU(s); a CPU-only libtorch is loaded unless "
                            + "PYTORCH_LIBRARY_PATH points at a CUDA build (deploy/GPU.md)", from, index, count));
        }
        return Device.gpu(index);
    }
}
