package org.cellcircuits.harvest;

/**
 * IEEE 754 binary16 (fp16) and bfloat16 conversions of fp32 values, rounding to nearest with ties to even, as
 * PyTorch's and numpy's casts do. Java 17 has no {@code Float.floatToFloat16} (it came in Java 20), and DJL aborts the
 * JVM when it makes a bf16 array on CPU (STACK.md), so the harvest converts in Java.
 *
 * <p>Edge cases: fp32 values at or above 65520 round to fp16 infinity (65520 is the midpoint between the largest
 * fp16, 65504, and the next power of two); values below 2^-14 become fp16 subnormals, and at or below 2^-25 round to
 * (signed) zero; NaN stays NaN (quiet, sign and top payload bits kept). For bf16 the largest fp32 values round to
 * infinity, and a NaN whose payload sits only in the low 16 bits stays NaN instead of truncating to infinity.
 */
public final class HalfFloats {
  private HalfFloats() {}

  /** The fp16 bit pattern nearest to {@code f} (ties to even), in the low 16 bits. */
  public static short toFp16(float f) {
    int x = Float.floatToRawIntBits(f);
    int sign = (x >>> 16) & 0x8000;
    int abs = x & 0x7fffffff;
    if (abs >= 0x7f800000) {
      if (abs > 0x7f800000) {
        // Keep the top payload bits; the quiet bit makes sure a signalling NaN does not turn into infinity.
        return (short) (sign | 0x7e00 | ((abs >>> 13) & 0x3ff));
      }
      return (short) (sign | 0x7c00);
    }
    if (abs >= 0x477ff000) { // >= 65520: rounds past the largest finite fp16
      return (short) (sign | 0x7c00);
    }
    if (abs >= 0x38800000) { // >= 2^-14: a normal fp16
      // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest, ties to even; a carry
      // out of the mantissa correctly bumps the exponent.
      int rounded = abs + 0xfff + ((abs >>> 13) & 1);
      return (short) (sign | ((rounded - 0x38000000) >>> 13));
    }
    if (abs < 0x33000000) { // < 2^-25: nearer to zero than to the smallest subnormal
      return (short) sign;
    }
    // Subnormal fp16: count units of 2^-24. The fp32 value is m * 2^(e - 150) with the implicit bit in m.
    int e = abs >>> 23;
    int m = (abs & 0x7fffff) | 0x800000;
    int shift = 126 - e; // 14..24 here
    int q = m >>> shift;
    int rem = m & ((1 << shift) - 1);
    int half = 1 << (shift - 1);
    if (rem > half || (rem == half && (q & 1) == 1)) {
      q++; // may reach 0x400, the smallest normal, whose bit pattern is exactly that
    }
    return (short) (sign | q);
  }

  /** The fp32 value of an fp16 bit pattern (exact: every fp16 value is an fp32 value). */
  public static float fromFp16(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0) {
      // Zero or subnormal: mant * 2^-24, exact in fp32.
      float v = mant * 0x1p-24f;
      return sign == 0 ? v : -v;
    }
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** The bf16 bit pattern nearest to {@code f} (ties to even), in the low 16 bits. */
  public static short toBf16(float f) {
    int x = Float.floatToRawIntBits(f);
    if ((x & 0x7fffffff) > 0x7f800000) {
      return (short) ((x >>> 16) | 0x0040);
    }
    return (short) ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
  }

  /**
   * The fp32 value of every fp16 bit pattern, indexed by the pattern (0..65535): decoding a stored vector is then one
   * array load per value instead of {@link #fromFp16}'s branches (256 KB, built on first use).
   */
  static float[] fp16Values() {
    return Fp16Values.TABLE;
  }

  private static final class Fp16Values {
    static final float[] TABLE = new float[1 << 16];

    static {
      for (int bits = 0; bits < TABLE.length; bits++) {
        TABLE[bits] = fromFp16((short) bits);
      }
    }
  }

  /** The fp32 value of a bf16 bit pattern (exact: bf16 is fp32 with the low 16 mantissa bits dropped). */
  public static float fromBf16(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }
}
