package org.cellcircuits.model;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * Number format of weights and activations. LayerNorm and softmax always run in fp32 (their sums lose too much in
 * half precision); everything else runs in this format.
 */
public enum Precision {
    FP32(DataType.FLOAT32),
    FP16(DataType.FLOAT16),
    BF16(DataType.BFLOAT16);

    private final DataType dataType;

    Precision(DataType dataType) {
        this.dataType = dataType;
    }

    public DataType dataType() {
        return dataType;
    }

    /** fp32 on CPU (the only format DJL runs there safely), bf16 on GPU. */
    public static Precision defaultFor(Device device) {
        return device.isGpu() ? BF16 : FP32;
    }

    /** Parses {@code fp32}, {@code fp16}, {@code bf16} or {@code auto} (= {@link #defaultFor}). */
    public static Precision parse(String text, Device device) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        return switch (t) {
            case "auto" -> defaultFor(device);
            case "fp32", "float32" -> FP32;
            case "fp16", "float16" -> FP16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException(String.format(
                    "precision %s is not one of auto, fp32, fp16, bf16", text));
        };
    }

    /** Half precision on CPU aborts the JVM in DJL 0.36 (BF16) or is unsupported by many CPU kernels (FP16). */
    void checkSupportedOn(Device device) {
        if (this != FP32 && !device.isGpu()) {
            throw new IllegalArgumentException(String.format(
                    "precision %s is only supported on GPU; use fp32 on %s", name().toLowerCase(Locale.ROOT), device));
        }
    }
}
