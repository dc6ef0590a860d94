package org.cellcircuits.harvest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * fp16/bf16 conversions against hand-worked bit patterns and against an independent reference: every fp16 value
 * decoded with {@code Math.scalb} arithmetic, and round-to-nearest-even found by searching the sorted table of
 * representable values (no bit tricks shared with the code under test).
 */
class HalfFloatsTest {

  private static int fp16(float f) {
    return HalfFloats.toFp16(f) & 0xffff;
  }

  private static int bf16(float f) {
    return HalfFloats.toBf16(f) & 0xffff;
  }

  @Test
  void fp16HandWorkedPatterns() {
    assertThat(fp16(1.0f)).isEqualTo(0x3c00);
    assertThat(fp16(-2.0f)).isEqualTo(0xc000);
    assertThat(fp16(0.5f)).isEqualTo(0x3800);
    assertThat(fp16(0.0f)).isEqualTo(0x0000);
    assertThat(fp16(-0.0f)).isEqualTo(0x8000);
    assertThat(fp16(65504f)).as("largest finite").isEqualTo(0x7bff);
    assertThat(fp16(65519.996f)).as("just below the overflow midpoint").isEqualTo(0x7bff);
    assertThat(fp16(65520f)).as("midpoint to 2^16 rounds to infinity").isEqualTo(0x7c00);
    assertThat(fp16(1e6f)).isEqualTo(0x7c00);
    assertThat(fp16(Float.POSITIVE_INFINITY)).isEqualTo(0x7c00);
    assertThat(fp16(Float.NEGATIVE_INFINITY)).isEqualTo(0xfc00);
    assertThat(fp16(Float.NaN)).isEqualTo(0x7e00);
    // A signalling NaN whose payload sits in the low bits only must not become infinity.
    assertThat(fp16(Float.intBitsToFloat(0x7f800001))).isEqualTo(0x7e00);
    assertThat(fp16(Float.intBitsToFloat(0xffc00000))).isEqualTo(0xfe00);
    assertThat(fp16(0x1p-14f)).as("smallest normal").isEqualTo(0x0400);
    assertThat(fp16(0x1p-24f)).as("smallest subnormal").isEqualTo(0x0001);
    assertThat(fp16(1023 * 0x1p-24f)).as("largest subnormal").isEqualTo(0x03ff);
    assertThat(fp16(1023.5f * 0x1p-24f)).as("tie between largest subnormal (odd) and smallest normal").isEqualTo(0x0400);
    assertThat(fp16(0x1p-25f)).as("tie between 0 and 2^-24 goes to even 0").isEqualTo(0x0000);
    assertThat(fp16(-0x1p-25f)).isEqualTo(0x8000);
    assertThat(fp16(Math.nextUp(0x1p-25f))).isEqualTo(0x0001);
    assertThat(fp16(1.5f * 0x1p-24f)).as("tie between 1 (odd) and 2 units").isEqualTo(0x0002);
    assertThat(fp16(2.5f * 0x1p-24f)).as("tie between 2 (even) and 3 units").isEqualTo(0x0002);
    assertThat(fp16(1e-10f)).isEqualTo(0x0000);
    assertThat(fp16(1f + 0x1p-11f)).as("tie between 1 (even) and 1+2^-10").isEqualTo(0x3c00);
    assertThat(fp16(1f + 3 * 0x1p-11f)).as("tie between 1+2^-10 (odd) and 1+2^-9").isEqualTo(0x3c02);
    assertThat(fp16(1f + 0x1p-11f + 0x1p-20f)).as("just above the tie").isEqualTo(0x3c01);
    assertThat(fp16(2f - 0x1p-11f)).as("tie between 2-2^-10 (odd) and 2: the mantissa carry bumps the exponent")
        .isEqualTo(0x4000);
    assertThat(fp16(0.1f)).isEqualTo(0x2e66);
    assertThat(fp16(-3.140625f)).isEqualTo(0xc248);
  }

  @Test
  void fp16DecodeHandWorked() {
    assertThat(HalfFloats.fromFp16((short) 0x3c00)).isEqualTo(1.0f);
    assertThat(HalfFloats.fromFp16((short) 0x7bff)).isEqualTo(65504f);
    assertThat(HalfFloats.fromFp16((short) 0x0001)).isEqualTo(0x1p-24f);
    assertThat(HalfFloats.fromFp16((short) 0x03ff)).isEqualTo(1023 * 0x1p-24f);
    assertThat(Float.floatToRawIntBits(HalfFloats.fromFp16((short) 0x8000))).isEqualTo(0x80000000);
    assertThat(HalfFloats.fromFp16((short) 0x7c00)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(HalfFloats.fromFp16((short) 0xfc00)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(HalfFloats.fromFp16((short) 0x7e00)).isNaN();
    assertThat(HalfFloats.fromFp16((short) 0x7c01)).isNaN();
  }

  /** Independent decoding: sign * (1 + m/1024) * 2^(e-15), or m * 2^-24 for subnormals, in double arithmetic. */
  private static double referenceFp16(int h) {
    int sign = (h >> 15) & 1;
    int e = (h >> 10) & 0x1f;
    int m = h & 0x3ff;
    double v;
    if (e == 0) {
      v = Math.scalb((double) m, -24);
    } else if (e == 31) {
      v = m == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
    } else {
      v = Math.scalb(1.0 + m / 1024.0, e - 15);
    }
    return sign == 1 ? -v : v;
  }

  @Test
  void fp16DecodesEveryPatternAsTheReference() {
    for (int h = 0; h < 0x10000; h++) {
      double ref = referenceFp16(h);
      float got = HalfFloats.fromFp16((short) h);
      if (Double.isNaN(ref)) {
        assertThat(got).as("pattern %04x", h).isNaN();
      } else {
        assertThat((double) got).as("pattern %04x", h).isEqualTo(ref);
        assertThat(Math.copySign(1.0, got)).as("sign of pattern %04x", h).isEqualTo(Math.copySign(1.0, ref));
      }
    }
  }

  /** Nearest fp16 by search over the sorted non-negative finite values (plus 2^16 standing for overflow). */
  private static int referenceRound(float f, double[] values) {
    double a = Math.abs((double) f);
    int sign = Float.floatToRawIntBits(f) < 0 ? 0x8000 : 0;
    int i = Arrays.binarySearch(values, a);
    if (i >= 0) {
      return sign | Math.min(i, 0x7c00);
    }
    int hi = -i - 1;
    if (hi == values.length) {
      return sign | 0x7c00; // beyond 2^16
    }
    int lo = hi - 1;
    double dLo = a - values[lo];
    double dHi = values[hi] - a;
    int pick = dLo < dHi ? lo : dHi < dLo ? hi : ((lo & 1) == 0 ? lo : hi);
    return sign | Math.min(pick, 0x7c00); // index 0x7c00 is 2^16: overflow is infinity
  }

  private static double[] nonNegativeFp16Values() {
    double[] values = new double[0x7c01];
    for (int h = 0; h < 0x7c00; h++) {
      values[h] = referenceFp16(h); // increasing with the pattern for non-negative values
    }
    values[0x7c00] = 65536.0;
    return values;
  }

  @Test
  void fp16RoundsExactValuesMidpointsAndRandomFloatsAsTheReference() {
    double[] values = nonNegativeFp16Values();
    List<Float> probes = new ArrayList<>();
    for (int h = 0; h < 0x7c00; h++) {
      float exact = (float) values[h];
      float mid = (float) ((values[h] + values[h + 1]) / 2); // 12 significant bits: exact in fp32
      probes.add(exact);
      probes.add(mid);
      probes.add(Math.nextDown(mid));
      probes.add(Math.nextUp(mid));
    }
    Random random = new Random(7);
    for (int i = 0; i < 200_000; i++) {
      // Uniform bit patterns over the exponents fp16 covers (and some beyond, both ways).
      int bits = (random.nextInt(0x9f - 0x60) + 0x60) << 23 | random.nextInt(1 << 23);
      probes.add(Float.intBitsToFloat(bits));
    }
    int checked = 0;
    for (float p : probes) {
      for (float f : new float[] {p, -p}) {
        assertThat(fp16(f)).as("fp16 of %s (bits %08x)", f, Float.floatToRawIntBits(f))
            .isEqualTo(referenceRound(f, values));
        checked++;
      }
    }
    assertThat(checked).isGreaterThan(500_000);
  }

  @Test
  void bf16HandWorkedPatterns() {
    assertThat(bf16(1.0f)).isEqualTo(0x3f80);
    assertThat(bf16(-1.0f)).isEqualTo(0xbf80);
    assertThat(bf16(1f + 0x1p-8f)).as("tie between 1 (even) and 1+2^-7").isEqualTo(0x3f80);
    assertThat(bf16(1f + 3 * 0x1p-8f)).as("tie between 1+2^-7 (odd) and 1+2^-6").isEqualTo(0x3f82);
    assertThat(bf16(1f + 0x1p-8f + 0x1p-20f)).isEqualTo(0x3f81);
    assertThat(bf16(Float.MAX_VALUE)).as("largest fp32 rounds to infinity").isEqualTo(0x7f80);
    assertThat(bf16(Float.intBitsToFloat(0x7f7f7fff))).as("just below that midpoint").isEqualTo(0x7f7f);
    assertThat(bf16(Float.POSITIVE_INFINITY)).isEqualTo(0x7f80);
    assertThat(bf16(Float.NEGATIVE_INFINITY)).isEqualTo(0xff80);
    assertThat(bf16(Float.NaN)).isEqualTo(0x7fc0);
    assertThat(bf16(Float.intBitsToFloat(0x7f800001))).as("low-payload NaN stays NaN").isEqualTo(0x7fc0);
    assertThat(bf16(Float.MIN_VALUE)).as("fp32 subnormal 2^-149 rounds to 0").isEqualTo(0x0000);
    assertThat(bf16(Float.intBitsToFloat(0x00018000))).as("subnormal tie to odd rounds up").isEqualTo(0x0002);
    assertThat(bf16(-0.0f)).isEqualTo(0x8000);
    assertThat(bf16(3.140625f)).isEqualTo(0x4049);
    assertThat(HalfFloats.fromBf16((short) 0x4049)).isEqualTo(3.140625f);
    assertThat(HalfFloats.fromBf16((short) 0xff80)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(HalfFloats.fromBf16((short) 0x7fc0)).isNaN();
  }

  @Test
  void bf16RoundsRandomFloatsAsTheReference() {
    Random random = new Random(11);
    for (int i = 0; i < 300_000; i++) {
      int bits = random.nextInt();
      if ((i & 3) == 0) {
        bits = (bits & 0xffff0000) | 0x8000; // exact ties
      }
      float f = Float.intBitsToFloat(bits);
      if (Float.isNaN(f)) {
        assertThat(HalfFloats.fromBf16(HalfFloats.toBf16(f))).isNaN();
        continue;
      }
      // Reference: the two bf16 neighbours by truncation, compared in double.
      int loBits = bits & 0xffff0000;
      double lo = Float.intBitsToFloat(loBits);
      int hiPattern = (loBits >>> 16) + 1;
      double hi = (hiPattern & 0x7fff) == 0x7f80 ? Math.copySign(Math.scalb(1.0, 128), lo)
          : HalfFloats.fromBf16((short) hiPattern);
      double dLo = Math.abs(f - lo);
      double dHi = Math.abs(hi - f);
      int expected = dLo < dHi ? loBits >>> 16 : dHi < dLo ? hiPattern : ((loBits >>> 16) & 1) == 0 ? loBits >>> 16
          : hiPattern;
      assertThat(bf16(f)).as("bf16 of %s (bits %08x)", f, bits).isEqualTo(expected & 0xffff);
    }
  }

  @Test
  void vectorFormatsWriteLittleEndianAndRoundTrip() {
    float[] v = {1.0f, -2.0f, 65504f, 0x1p-24f};
    byte[] out = new byte[8];
    VectorFormat.FP16.encode(v, 0, 4, out, 0);
    assertThat(out).containsExactly(0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00);
    float[] back = new float[4];
    VectorFormat.FP16.decode(out, 0, 4, back, 0);
    assertThat(back).containsExactly(v);

    VectorFormat.BF16.encode(v, 0, 2, out, 2);
    assertThat(Arrays.copyOfRange(out, 2, 6)).containsExactly(0x80, 0x3f, 0x00, 0xc0);
    VectorFormat.BF16.decode(out, 2, 2, back, 1);
    assertThat(back[1]).isEqualTo(1.0f);
    assertThat(back[2]).isEqualTo(-2.0f);

    assertThat(VectorFormat.parse("k", " BF16 ")).isEqualTo(VectorFormat.BF16);
    assertThat(VectorFormat.parse("k", "float16")).isEqualTo(VectorFormat.FP16);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> VectorFormat.parse("vector_format", "fp8"))
        .hasMessage("vector_format is invalid: 'fp8'; need one of fp16, bf16, float16, bfloat16");
  }

  @Test
  void vectorDecodeOfEveryPatternEqualsTheScalarDecodeBitForBit() {
    // The vector decoders (fp16 by table lookup, bf16 by shift) must give exactly the scalar conversions, NaN payloads
    // and signed zeros included, for all 65536 patterns, at an odd offset so the byte order is exercised.
    byte[] bytes = new byte[1 + 2 * 0x10000];
    for (int h = 0; h < 0x10000; h++) {
      bytes[1 + 2 * h] = (byte) h;
      bytes[2 + 2 * h] = (byte) (h >>> 8);
    }
    for (VectorFormat format : VectorFormat.values()) {
      float[] got = new float[0x10001];
      format.decode(bytes, 1, 0x10000, got, 1);
      for (int h = 0; h < 0x10000; h++) {
        float expected = format == VectorFormat.FP16 ? HalfFloats.fromFp16((short) h) : HalfFloats.fromBf16((short) h);
        assertThat(Float.floatToRawIntBits(got[1 + h])).as("%s pattern %04x", format, h)
            .isEqualTo(Float.floatToRawIntBits(expected));
      }
    }
  }
}
