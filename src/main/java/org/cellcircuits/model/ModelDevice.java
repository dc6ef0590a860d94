package org.cellcircuits.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.util.Locale;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import scala.Option;

/**
 * Chooses the device a model runs on. On a Spark GPU executor each task gets the GPU Spark assigned to it
 * (spark.task.resource.gpu.amount), never a hard-coded index, so several tasks on one executor do not pile onto
 * GPU 0.
 */
public final class ModelDevice {

    private ModelDevice() {}

    /**
     * Resolves a device option: {@code auto} (the Spark task's GPU if it has one, else CPU), {@code cpu},
     * {@code gpu} (GPU 0) or {@code gpu:N}.
     */
    public static Device resolve(String option) {
        String o = option.trim().toLowerCase(Locale.ROOT);
        if (o.equals("auto")) {
            Integer gpu = sparkTaskGpu();
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

    /** The first GPU address Spark assigned to the running task, or null outside a task or without GPUs. */
    public static Integer sparkTaskGpu() {
        try {
            TaskContext tc = TaskContext.get();
            if (tc == null) {
                return null;
            }
            Option<ResourceInformation> gpu = tc.resources().get("gpu");
            if (gpu.isEmpty() || gpu.get().addresses().length == 0) {
                return null;
            }
            String address = gpu.get().addresses()[0];
            try {
                return Integer.parseInt(address.trim());
            } catch (NumberFormatException e) {
                throw new IllegalStateException(String.format(
                        "Spark assigned GPU address %s, which is not an integer index; check the cluster's GPU discovery script", address));
            }
        } catch (NoClassDefFoundError e) {
            return null; // not running under Spark
        }
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
