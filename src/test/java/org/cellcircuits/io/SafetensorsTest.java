package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    @TempDir
    Path dir;

    @Test
    void writtenTensorsReadBackWithTheirNamesShapesAndRoundedValues() {
        Random r = new Random(1);
        float[] values = new float[24];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (r.nextGaussian() * 3);
        }
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter()
                .add("a.f32", values, new long[] {2, 3, 4}, SafetensorsDType.F32)
                .add("b.f16", values, new long[] {24}, SafetensorsDType.F16)
                .add("c.bf16", values, new long[] {4, 6}, SafetensorsDType.BF16)
                .add("d.i64", new long[] {-1, 0, 1L << 40}, new long[] {3})
                .metadata("model", "tiny")
                .write(file);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertThat(reader.names()).containsExactly("a.f32", "b.f16", "c.bf16", "d.i64");
            assertThat(reader.metadata()).containsEntry("model", "tiny").containsEntry("format", "pt");
            assertThat(reader.info("a.f32").shape()).containsExactly(2, 3, 4);
            assertThat(reader.info("c.bf16").dtype()).isEqualTo(SafetensorsDType.BF16);
            assertThat(reader.readFloats("a.f32")).containsExactly(values);
            float[] half = reader.readFloats("b.f16");
            float[] bf = reader.readFloats("c.bf16");
            for (int i = 0; i < values.length; i++) {
                // half keeps 11 significant bits, bf16 keeps 8: round-to-nearest error is at most half an ulp
                assertThat((double) Math.abs(half[i] - values[i])).isLessThanOrEqualTo(Math.abs(values[i]) * 0x1p-11);
                assertThat((double) Math.abs(bf[i] - values[i])).isLessThanOrEqualTo(Math.abs(values[i]) * 0x1p-8);
            }
            assertThat(reader.readLongs("d.i64")).containsExactly(-1, 0, 1L << 40);
        }
    }

    @Test
    void halfAndBfloat16RoundToNearestEvenLikeTorch() {
        // 0.1f = 0x3DCCCCCD: bf16 rounds up to 0x3DCD = 0.10009765625; half is 0x2E66 = 0.0999755859375
        assertThat(SafetensorsDType.floatToBf16(0.1f)).isEqualTo((short) 0x3DCD);
        assertThat(SafetensorsDType.bf16ToFloat((short) 0x3DCD)).isEqualTo(0.10009765625f);
        assertThat(SafetensorsDType.floatToHalf(0.1f)).isEqualTo((short) 0x2E66);
        assertThat(SafetensorsDType.halfToFloat((short) 0x2E66)).isEqualTo(0.0999755859375f);
        // ties go to even: 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125
        assertThat(SafetensorsDType.floatToBf16(1f + 0x1p-8f)).isEqualTo((short) 0x3F80);
        assertThat(SafetensorsDType.floatToBf16(1f + 3 * 0x1p-8f)).isEqualTo((short) 0x3F82);
        // half: largest finite, overflow to infinity, subnormals
        assertThat(SafetensorsDType.floatToHalf(65504f)).isEqualTo((short) 0x7BFF);
        assertThat(SafetensorsDType.floatToHalf(70000f)).isEqualTo((short) 0x7C00);
        assertThat(SafetensorsDType.floatToHalf(1e-7f)).isEqualTo((short) 0x0002);
        assertThat(SafetensorsDType.halfToFloat((short) 0x0002)).isEqualTo(0x1p-23f);
        assertThat(SafetensorsDType.halfToFloat((short) 0xC000)).isEqualTo(-2f);
        for (int h = 0; h < 0x7C00; h++) { // every finite positive half survives the round trip
            assertThat(SafetensorsDType.floatToHalf(SafetensorsDType.halfToFloat((short) h))).isEqualTo((short) h);
        }
    }

    @Test
    void corruptFilesAreNamedWithWhatIsWrong() throws IOException {
        Path tooShort = dir.resolve("short.safetensors");
        Files.write(tooShort, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        assertThatThrownBy(() -> SafetensorsReader.open(tooShort)).hasMessageContaining("short.safetensors").hasMessageContaining("header length");

        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}";
        Path wrongSize = write("size.safetensors", header, 16);
        assertThatThrownBy(() -> SafetensorsReader.open(wrongSize)).hasMessageContaining("size.safetensors")
                .hasMessageContaining("tensor w has 12 data bytes").hasMessageContaining("need 16");

        Path badType = write("type.safetensors", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        assertThatThrownBy(() -> SafetensorsReader.open(badType)).hasMessageContaining("tensor w has dtype F8_E4M3");

        Path outside = write("outside.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        assertThatThrownBy(() -> SafetensorsReader.open(outside)).hasMessageContaining("outside the 8 data bytes");

        try (SafetensorsReader ok = SafetensorsReader.open(write("ok.safetensors", header.replace("12]", "16]"), 16))) {
            assertThatThrownBy(() -> ok.info("v")).hasMessageContaining("tensor v not found in").hasMessageContaining("ok.safetensors");
            assertThatThrownBy(() -> ok.readLongs("w")).hasMessageContaining("expected I64 or I32");
        }
    }

    private Path write(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }
}
