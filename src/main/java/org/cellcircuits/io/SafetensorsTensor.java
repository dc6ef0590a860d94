package org.cellcircuits.io;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where one tensor of a safetensors file lives: its dtype and shape from the JSON header, and the absolute byte
 * range of its data in {@code file}.
 */
public record SafetensorsTensor(String name, SafetensorsDType dtype, long[] shape, Path file, long start, long length) {

    public SafetensorsTensor {
        shape = shape.clone();
        if (length != numel(shape) * dtype.bytes()) {
            throw new IllegalArgumentException(String.format(
                    "%s: tensor %s has %d data bytes; dtype %s and shape %s need %d",
                    file, name, length, dtype, Arrays.toString(shape), numel(shape) * dtype.bytes()));
        }
    }

    /** Number of elements. */
    public long numel() {
        return numel(shape);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public String toString() {
        return String.format("%s %s%s in %s", name, dtype, Arrays.toString(shape), file);
    }
}
