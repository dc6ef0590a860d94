package org.cellcircuits.runtime;

import ai.djl.Device;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.cellcircuits.model.ModelDevice;
import scala.Option;

/**
 * The device a model runs on inside a Spark task: {@link ModelDevice#resolve} with {@code auto} meaning the GPU Spark
 * assigned to the task (spark.task.resource.gpu.amount), so several tasks on one executor do not pile onto GPU 0.
 */
public final class TaskDevice {
  private TaskDevice() {}

  /** {@code auto} (the task's GPU if it has one, else CPU), {@code cpu}, {@code gpu} or {@code gpu:N}. */
  public static Device resolve(String option) {
    return ModelDevice.resolve(option, TaskDevice::sparkTaskGpu);
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
            "Spark assigned GPU address %s, which is not an integer index; check the cluster's GPU discovery script",
            address));
      }
    } catch (NoClassDefFoundError e) {
      return null; // not running under Spark
    }
  }

}
