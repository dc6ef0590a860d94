package org.cellcircuits.model;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.cellcircuits.io.ConfigChecks;

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

    /** The config key every parse failure names. */
    public static final String KEY = "cellcircuits.model.precision";

    /**
     * Parses {@code auto} (= {@link #defaultFor}), {@code fp32}, {@code fp16} or {@code bf16} (case-insensitive;
     * {@code float32}, {@code float16}, {@code bfloat16} too).
     */
    public static Precision parse(String text, Device device) {
        Map<String, Precision> spellings = new LinkedHashMap<>();
        spellings.put("auto", defaultFor(device));
        spellings.put("fp32", FP32);
        spellings.put("fp16", FP16);
        spellings.put("bf16", BF16);
        spellings.put("float32", FP32);
        spellings.put("float16", FP16);
        spellings.put("bfloat16", BF16);
        return ConfigChecks.oneOf(KEY, text, spellings);
    }

    /** Half precision on CPU aborts the JVM in DJL 0.36 (BF16) or is unsupported by many CPU kernels (FP16). */
    void checkSupportedOn(Device device) {
        if (this != FP32 && !device.isGpu()) {
            throw new IllegalArgumentException(String.format(
                    "precision %s is only supported on GPU; use fp32 on %s", name().toLowerCase(Locale.ROOT), device));
        }
    }
}
