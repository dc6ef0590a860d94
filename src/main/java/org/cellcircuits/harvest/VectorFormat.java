package org.cellcircuits.harvest;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.cellcircuits.io.ConfigChecks;

/**
 * How an activation vector is stored in a Parquet {@code binary} cell: {@code d_model} 16-bit values, little-endian,
 * so a vector of width d takes exactly {@code 2·d} bytes and numpy reads it with {@code np.frombuffer(b, "<f2")}
 * (fp16) or as {@code "<u2"} shifted left by 16 into fp32 (bf16).
 *
 * <p>fp16 keeps 10 mantissa bits (relative error at most 2^-11) over the range ±65504; bf16 keeps fp32's range with
 * 7 mantissa bits (relative error at most 2^-8). MLP inputs are LayerNorm outputs and MLP outputs of a trained
 * transformer are well inside fp16's range, so fp16 is the more precise default.
 */
public enum VectorFormat {
  FP16,
  BF16;

  /** Bytes per stored value. */
  public static final int BYTES_PER_VALUE = 2;

  /** What a config or a file may write: each format's {@link #id} and its numpy/torch dtype name. */
  private static final Map<String, VectorFormat> SPELLINGS = spellings();

  private static Map<String, VectorFormat> spellings() {
    Map<String, VectorFormat> m = new LinkedHashMap<>();
    m.put("fp16", FP16);
    m.put("bf16", BF16);
    m.put("float16", FP16);
    m.put("bfloat16", BF16);
    return m;
  }

  /**
   * {@code fp16} or {@code bf16} (case-insensitive; {@code float16}, {@code bfloat16} too).
   *
   * @param key where the value was written, named in the failure (e.g. {@code cellcircuits.harvest.vector-format})
   */
  public static VectorFormat parse(String key, String text) {
    return ConfigChecks.oneOf(key, text, SPELLINGS);
  }

  /** The name used in configs and file metadata: {@code fp16} or {@code bf16}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  public short encode(float value) {
    return this == FP16 ? HalfFloats.toFp16(value) : HalfFloats.toBf16(value);
  }

  public float decode(short bits) {
    return this == FP16 ? HalfFloats.fromFp16(bits) : HalfFloats.fromBf16(bits);
  }

  /** Writes {@code n} values from {@code src[srcOff..]} as little-endian 16-bit patterns at {@code dst[dstOff..]}. */
  public void encode(float[] src, int srcOff, int n, byte[] dst, int dstOff) {
    if (this == FP16) {
      for (int i = 0; i < n; i++) {
        short h = HalfFloats.toFp16(src[srcOff + i]);
        dst[dstOff + 2 * i] = (byte) h;
        dst[dstOff + 2 * i + 1] = (byte) (h >>> 8);
      }
    } else {
      for (int i = 0; i < n; i++) {
        short h = HalfFloats.toBf16(src[srcOff + i]);
        dst[dstOff + 2 * i] = (byte) h;
        dst[dstOff + 2 * i + 1] = (byte) (h >>> 8);
      }
    }
  }

  /** Reads {@code n} little-endian 16-bit patterns at {@code src[srcOff..]} into {@code dst[dstOff..]} as fp32. */
  public void decode(byte[] src, int srcOff, int n, float[] dst, int dstOff) {
    // The training stream decodes every value it reads (millions a step), so each format gets its own tight loop.
    if (this == FP16) {
      float[] values = HalfFloats.fp16Values();
      for (int i = 0; i < n; i++) {
        dst[dstOff + i] = values[(src[srcOff + 2 * i] & 0xff) | ((src[srcOff + 2 * i + 1] & 0xff) << 8)];
      }
    } else {
      for (int i = 0; i < n; i++) {
        dst[dstOff + i] = Float.intBitsToFloat(((src[srcOff + 2 * i] & 0xff) | ((src[srcOff + 2 * i + 1] & 0xff) << 8))
            << 16);
      }
    }
  }
}
