package org.cellcircuits.harvest;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.nio.ByteOrder;

/**
 * Turns a (rows, d_model) activation array into stored vector bytes, doing the rounding where it is cheapest: fp16 is
 * cast by libtorch on the array's own device (round to nearest even, as {@link HalfFloats}; half the bytes then cross
 * to the host and no Java loop runs), bf16 likewise on a GPU. bf16 on CPU is rounded in Java, since DJL aborts the
 * JVM when it makes a bf16 array on CPU (STACK.md). A big-endian host also takes the Java path, since libtorch hands
 * over bytes in the host's order and the stored format is little-endian.
 */
final class VectorEncoder {
  private static final boolean LITTLE_ENDIAN_HOST = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

  private VectorEncoder() {}

  /** Writes {@code rows × d} 16-bit values of {@code activations} to {@code dst[0..]}. */
  static void encode(NDArray activations, VectorFormat format, byte[] dst) {
    long n = activations.size();
    DataType target = format == VectorFormat.FP16 ? DataType.FLOAT16 : DataType.BFLOAT16;
    boolean onDevice = LITTLE_ENDIAN_HOST && (format == VectorFormat.FP16 || activations.getDevice().isGpu());
    if (onDevice) {
      NDArray half = activations.getDataType() == target ? activations : activations.toType(target, false);
      half.toByteBuffer().get(dst, 0, Math.toIntExact(2 * n));
      return;
    }
    NDArray fp32 = activations.getDataType() == DataType.FLOAT32 ? activations
        : activations.toType(DataType.FLOAT32, false);
    float[] values = fp32.toFloatArray();
    format.encode(values, 0, values.length, dst, 0);
  }
}
