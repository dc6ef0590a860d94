package org.cellcircuits.harvest;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** libtorch's fp16 cast (used on the device) writes exactly the bytes of the Java conversion, edge cases included. */
class VectorEncoderTest {
  @Test
  void deviceFp16CastEqualsHalfFloatsBitForBit() {
    int n = 1 << 18;
    float[] v = new float[n];
    Random random = new Random(2);
    for (int i = 0; i < n; i++) {
      v[i] = Float.intBitsToFloat((random.nextInt(0xa0 - 0x5c) + 0x5c) << 23 | random.nextInt(1 << 23))
          * (random.nextBoolean() ? 1 : -1);
    }
    float[] edges = {0f, -0f, 65504f, 65519.996f, 65520f, 1e6f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        0x1p-14f, 0x1p-24f, 0x1p-25f, Math.nextUp(0x1p-25f), 1.5f * 0x1p-24f, 2.5f * 0x1p-24f, 1023.5f * 0x1p-24f,
        1f + 0x1p-11f, 1f + 3 * 0x1p-11f, 2f - 0x1p-11f, 1e-10f, 0.1f};
    System.arraycopy(edges, 0, v, 0, edges.length);
    byte[] expected = new byte[2 * n];
    VectorFormat.FP16.encode(v, 0, n, expected, 0);
    byte[] got = new byte[2 * n];
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      VectorEncoder.encode(m.create(v, new Shape(n / 64, 64)), VectorFormat.FP16, got);
    }
    assertThat(got).isEqualTo(expected);
  }

  @Test
  void bf16OnCpuTakesTheJavaPath() {
    float[] v = {1f, 1f + 3 * 0x1p-8f, -2.5f, Float.MAX_VALUE};
    byte[] got = new byte[8];
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      VectorEncoder.encode(m.create(v, new Shape(1, 4)), VectorFormat.BF16, got);
    }
    assertThat(got).containsExactly(0x80, 0x3f, 0x82, 0x3f, 0x20, 0xc0, 0x80, 0x7f);
  }
}
