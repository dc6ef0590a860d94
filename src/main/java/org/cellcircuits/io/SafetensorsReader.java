package org.cellcircuits.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Reads safetensors files ourselves rather than through DJL's {@code NDList.decode}, which loads the whole file
 * into one Java array with int offsets and so fails past 2 GiB. Each tensor is memory-mapped on its own, so files
 * of any size work as long as a single tensor is under 2 GiB. A checkpoint folder may be one
 * {@code model.safetensors} or shards listed in {@code model.safetensors.index.json}.
 *
 * <p>Format: 8-byte little-endian header length N, N bytes of JSON
 * ({@code name -> {dtype, shape, data_offsets: [begin, end]}}, plus optional {@code __metadata__}), then the data;
 * offsets are relative to the first byte after the header.
 */
public final class SafetensorsReader implements AutoCloseable {

    /** Python lines printed when a folder holds only a PyTorch pickle, so the user can convert it. */
    static final String CONVERT_HINT = String.join("\n",
            "convert it once with this project's jobs/convert-checkpoint <folder> (Python 3 with torch only, e.g."
                    + " Debian's python3-torch), or with transformers and safetensors installed:",
            "    from transformers import GPTNeoXForCausalLM",
            "    m = GPTNeoXForCausalLM.from_pretrained(\"<folder>\")",
            "    m.save_pretrained(\"<folder>\", safe_serialization=True)",
            "or, without transformers:",
            "    import torch; from safetensors.torch import save_file",
            "    sd = torch.load(\"<folder>/pytorch_model.bin\", map_location=\"cpu\")",
            "    save_file({k: v.contiguous() for k, v in sd.items()}, \"<folder>/model.safetensors\", metadata={\"format\": \"pt\"})");

    private final Path source;
    private final Map<String, SafetensorsTensor> tensors;
    private final Map<String, String> metadata;
    private final Map<Path, FileChannel> channels = new LinkedHashMap<>();

    private SafetensorsReader(Path source, Map<String, SafetensorsTensor> tensors, Map<String, String> metadata) {
        this.source = source;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * Opens a {@code .safetensors} file, or a checkpoint folder holding {@code model.safetensors} or a sharded
     * {@code model.safetensors.index.json}.
     */
    public static SafetensorsReader open(Path fileOrFolder) {
        if (Files.isDirectory(fileOrFolder)) {
            Path index = fileOrFolder.resolve("model.safetensors.index.json");
            Path single = fileOrFolder.resolve("model.safetensors");
            if (Files.exists(index)) {
                return openSharded(fileOrFolder, index);
            }
            if (Files.exists(single)) {
                return openFile(single);
            }
            String pickles;
            try (Stream<Path> files = Files.list(fileOrFolder)) {
                pickles = files.map(p -> p.getFileName().toString())
                        .filter(n -> n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth"))
                        .sorted().reduce((a, b) -> a + ", " + b).orElse("");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list checkpoint folder " + fileOrFolder, e);
            }
            if (!pickles.isEmpty()) {
                throw new IllegalArgumentException(String.format(
                        "%s has no model.safetensors, only PyTorch pickle weights (%s), which Java cannot read safely; %s",
                        fileOrFolder, pickles, CONVERT_HINT.replace("<folder>", fileOrFolder.toString())));
            }
            throw new IllegalArgumentException(String.format(
                    "%s has neither model.safetensors nor model.safetensors.index.json", fileOrFolder));
        }
        if (!Files.exists(fileOrFolder)) {
            throw new IllegalArgumentException("safetensors file not found: " + fileOrFolder);
        }
        return openFile(fileOrFolder);
    }

    private static SafetensorsReader openFile(Path file) {
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, SafetensorsTensor> tensors = readHeader(file, metadata);
        return new SafetensorsReader(file, tensors, metadata);
    }

    private static SafetensorsReader openSharded(Path folder, Path index) {
        JsonObject weightMap;
        try {
            JsonObject root = JsonParser.parseString(Files.readString(index)).getAsJsonObject();
            if (!root.has("weight_map") || !root.get("weight_map").isJsonObject()) {
                throw new IllegalArgumentException(index + ": missing object key weight_map");
            }
            weightMap = root.getAsJsonObject("weight_map");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + index, e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(index + ": not valid JSON: " + e.getMessage(), e);
        }
        Set<String> shards = new LinkedHashSet<>();
        for (Map.Entry<String, JsonElement> e : weightMap.entrySet()) {
            shards.add(e.getValue().getAsString());
        }
        Map<String, SafetensorsTensor> all = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (String shard : shards) {
            Path file = folder.resolve(shard);
            if (!Files.exists(file)) {
                throw new IllegalArgumentException(String.format("%s names shard %s, which does not exist", index, file));
            }
            all.putAll(readHeader(file, metadata));
        }
        for (Map.Entry<String, JsonElement> e : weightMap.entrySet()) {
            SafetensorsTensor t = all.get(e.getKey());
            if (t == null || !t.file().getFileName().toString().equals(e.getValue().getAsString())) {
                throw new IllegalArgumentException(String.format(
                        "%s maps tensor %s to %s, but that shard does not hold it", index, e.getKey(), e.getValue().getAsString()));
            }
        }
        return new SafetensorsReader(folder, all, metadata);
    }

    private static Map<String, SafetensorsTensor> readHeader(Path file, Map<String, String> metadataOut) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, file);
            long headerLen = lenBuf.getLong(0);
            if (headerLen <= 1 || headerLen > 100_000_000L || 8 + headerLen > size) {
                throw new IllegalArgumentException(String.format(
                        "%s: header length %d is impossible for a %d-byte file; not a safetensors file?", file, headerLen, size));
            }
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8, file);
            JsonObject header;
            try {
                header = JsonParser.parseString(new String(headerBuf.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                throw new IllegalArgumentException(file + ": safetensors header is not a JSON object: " + e.getMessage(), e);
            }
            long dataStart = 8 + headerLen;
            Map<String, SafetensorsTensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                String name = e.getKey();
                if (name.equals("__metadata__")) {
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                        metadataOut.put(m.getKey(), m.getValue().getAsString());
                    }
                    continue;
                }
                JsonObject t = e.getValue().getAsJsonObject();
                for (String key : new String[] {"dtype", "shape", "data_offsets"}) {
                    if (!t.has(key)) {
                        throw new IllegalArgumentException(String.format("%s: tensor %s lacks key %s", file, name, key));
                    }
                }
                SafetensorsDType dtype = SafetensorsDType.parse(t.get("dtype").getAsString(), name, file);
                var shapeJson = t.getAsJsonArray("shape");
                long[] shape = new long[shapeJson.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeJson.get(i).getAsLong();
                }
                var offsets = t.getAsJsonArray("data_offsets");
                long begin = offsets.get(0).getAsLong();
                long end = offsets.get(1).getAsLong();
                if (begin < 0 || end < begin || dataStart + end > size) {
                    throw new IllegalArgumentException(String.format(
                            "%s: tensor %s has data_offsets [%d, %d] outside the %d data bytes",
                            file, name, begin, end, size - dataStart));
                }
                out.put(name, new SafetensorsTensor(name, dtype, shape, file, dataStart + begin, end - begin));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read safetensors file " + file, e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IllegalArgumentException(file + ": file ends inside the safetensors header");
            }
        }
    }

    /** The file or folder this reader was opened on. */
    public Path source() {
        return source;
    }

    /** Tensor names in header order (shard by shard). */
    public Set<String> names() {
        return tensors.keySet();
    }

    /** The {@code __metadata__} string map (merged over shards). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Header entry of a tensor; the error for a missing one names the tensor and where it was looked for. */
    public SafetensorsTensor info(String name) {
        SafetensorsTensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(String.format("tensor %s not found in %s (%d tensors there)",
                    name, source, tensors.size()));
        }
        return t;
    }

    /** A read-only little-endian view of the tensor's bytes, mapped from the file (no copy). */
    public ByteBuffer bytes(String name) {
        SafetensorsTensor t = info(name);
        if (t.length() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(String.format(
                    "%s: tensor %s is %d bytes; one tensor over 2 GiB cannot be memory-mapped", t.file(), name, t.length()));
        }
        try {
            FileChannel ch;
            synchronized (channels) {
                ch = channels.get(t.file());
                if (ch == null) {
                    ch = FileChannel.open(t.file(), StandardOpenOption.READ);
                    channels.put(t.file(), ch);
                }
            }
            return ch.map(FileChannel.MapMode.READ_ONLY, t.start(), t.length()).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map tensor " + name + " of " + t.file(), e);
        }
    }

    /**
     * Writes the tensor, widened to fp32, into {@code out} (which must have {@code numel*4} bytes remaining) in
     * the buffer's own byte order. F16 and BF16 are widened in Java, because DJL aborts the JVM on CPU BF16.
     */
    public void readFloatsInto(String name, ByteBuffer out) {
        SafetensorsTensor t = info(name);
        if (!t.dtype().isFloat()) {
            throw new IllegalArgumentException(String.format("%s: tensor %s is %s, expected a float type", t.file(), name, t.dtype()));
        }
        ByteBuffer in = bytes(name);
        long n = t.numel();
        switch (t.dtype()) {
            case F32 -> out.asFloatBuffer().put(in.asFloatBuffer());
            case F16 -> {
                var fb = out.asFloatBuffer();
                for (long i = 0; i < n; i++) {
                    fb.put(SafetensorsDType.halfToFloat(in.getShort()));
                }
            }
            case BF16 -> {
                var fb = out.asFloatBuffer();
                for (long i = 0; i < n; i++) {
                    fb.put(SafetensorsDType.bf16ToFloat(in.getShort()));
                }
            }
            default -> throw new AssertionError(t.dtype());
        }
    }

    /** The tensor widened to fp32, in row-major order. */
    public float[] readFloats(String name) {
        SafetensorsTensor t = info(name);
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(t.numel() * 4)).order(ByteOrder.nativeOrder());
        readFloatsInto(name, buf);
        float[] out = new float[(int) t.numel()];
        buf.asFloatBuffer().get(out);
        return out;
    }

    /** An integer tensor (I64 or I32) as longs. */
    public long[] readLongs(String name) {
        SafetensorsTensor t = info(name);
        ByteBuffer in = bytes(name);
        long[] out = new long[Math.toIntExact(t.numel())];
        switch (t.dtype()) {
            case I64 -> in.asLongBuffer().get(out);
            case I32 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = in.getInt();
                }
            }
            default -> throw new IllegalArgumentException(String.format(
                    "%s: tensor %s is %s, expected I64 or I32", t.file(), name, t.dtype()));
        }
        return out;
    }

    @Override
    public void close() {
        synchronized (channels) {
            for (FileChannel ch : channels.values()) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // read-only channel: nothing was written that closing could lose
                }
            }
            channels.clear();
        }
    }
}
