package org.cellcircuits.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects named tensors and writes them as one safetensors file that Python's {@code safetensors.torch.load_file}
 * and HuggingFace {@code from_pretrained} read. Float data is given as fp32 and stored as F32, F16 or BF16 (rounded
 * to nearest even, like torch's casts); integer data as I64.
 */
public final class SafetensorsWriter {

    private record Entry(SafetensorsDType dtype, long[] shape, float[] floats, long[] longs) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter() {
        metadata.put("format", "pt");
    }

    /** Adds a float tensor given in row-major order, to be stored as {@code dtype} (F32, F16 or BF16). */
    public SafetensorsWriter add(String name, float[] data, long[] shape, SafetensorsDType dtype) {
        if (!dtype.isFloat()) {
            throw new IllegalArgumentException(String.format("tensor %s: float data cannot be stored as %s", name, dtype));
        }
        checkNew(name, data.length, shape);
        entries.put(name, new Entry(dtype, shape.clone(), data.clone(), null));
        return this;
    }

    /** Adds an integer tensor stored as I64. */
    public SafetensorsWriter add(String name, long[] data, long[] shape) {
        checkNew(name, data.length, shape);
        entries.put(name, new Entry(SafetensorsDType.I64, shape.clone(), null, data.clone()));
        return this;
    }

    /** Adds an NDArray (any float type is read as fp32 first; integer types as I64). */
    public SafetensorsWriter add(String name, NDArray array, SafetensorsDType dtype) {
        long[] shape = array.getShape().getShape();
        DataType t = array.getDataType();
        if (t.isFloating()) {
            try (NDArray f = t == DataType.FLOAT32 ? null : array.toType(DataType.FLOAT32, true)) {
                return add(name, (f == null ? array : f).toFloatArray(), shape, dtype);
            }
        }
        try (NDArray l = array.toType(DataType.INT64, true)) {
            return add(name, l.toLongArray(), shape);
        }
    }

    /** A {@code __metadata__} string entry (provenance: model, config hash, step...). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    private void checkNew(String name, long numel, long[] shape) {
        if (entries.containsKey(name) || name.equals("__metadata__")) {
            throw new IllegalArgumentException("tensor name used twice or reserved: " + name);
        }
        if (SafetensorsTensor.numel(shape) != numel) {
            throw new IllegalArgumentException(String.format(
                    "tensor %s: %d values do not fill shape %s", name, numel, Arrays.toString(shape)));
        }
    }

    /** Writes the file (parent folders are created). */
    public void write(Path file) {
        try {
            if (file.getParent() != null) {
                Files.createDirectories(file.getParent());
            }
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
                writeTo(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write safetensors file " + file, e);
        }
    }

    /** Writes the safetensors bytes to a stream (for object stores); the stream is not closed. */
    public void writeTo(OutputStream out) throws IOException {
        JsonObject header = new JsonObject();
        long offset = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            Entry en = e.getValue();
            long bytes = SafetensorsTensor.numel(en.shape) * en.dtype.bytes();
            JsonObject t = new JsonObject();
            t.addProperty("dtype", en.dtype.name());
            JsonArray shape = new JsonArray();
            for (long d : en.shape) {
                shape.add(d);
            }
            t.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes);
            t.add("data_offsets", offsets);
            header.add(e.getKey(), t);
            offset += bytes;
        }
        JsonObject meta = new JsonObject();
        metadata.forEach(meta::addProperty);
        header.add("__metadata__", meta);
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        // The reference implementation pads the header with spaces so the data starts 8-byte aligned.
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        out.write(head.array());

        ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry en : entries.values()) {
            int n = en.floats != null ? en.floats.length : en.longs.length;
            for (int i = 0; i < n; i++) {
                if (chunk.remaining() < 8) {
                    out.write(chunk.array(), 0, chunk.position());
                    chunk.clear();
                }
                switch (en.dtype) {
                    case F32 -> chunk.putFloat(en.floats[i]);
                    case F16 -> chunk.putShort(SafetensorsDType.floatToHalf(en.floats[i]));
                    case BF16 -> chunk.putShort(SafetensorsDType.floatToBf16(en.floats[i]));
                    case I64 -> chunk.putLong(en.longs[i]);
                    default -> throw new AssertionError(en.dtype);
                }
            }
        }
        out.write(chunk.array(), 0, chunk.position());
    }
}
