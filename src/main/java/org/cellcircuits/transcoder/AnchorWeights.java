package org.cellcircuits.transcoder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SafetensorsTensor;
import org.cellcircuits.model.HookNames;

/**
 * The tensors of a weights file written by another tool (SAELens, circuit-tracer), read by name. Its errors name the
 * file and the tensor, because a wrong file is the usual mistake and the reader cannot know which was meant. Every
 * tensor must be claimed: like torch's strict {@code load_state_dict}, which both tools load with, a tensor nobody
 * reads means the file holds something the loader does not understand.
 */
final class AnchorWeights implements AutoCloseable {

    private static final Pattern BLOCK_HOOK = Pattern.compile("^blocks\\.(\\d+)\\.(.+)$");

    private final Path file;
    private final SafetensorsReader reader;
    private final Set<String> claimed = new LinkedHashSet<>();

    private AnchorWeights(Path file, SafetensorsReader reader) {
        this.file = file;
        this.reader = reader;
    }

    static AnchorWeights open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("weights file not found: " + file);
        }
        return new AnchorWeights(file, SafetensorsReader.open(file));
    }

    Path file() {
        return file;
    }

    boolean has(String name) {
        return reader.contains(name);
    }

    /** The tensor's shape; the error for a missing one lists what the file holds. */
    long[] shape(String name) {
        return tensor(name).shape();
    }

    /** A float tensor widened to fp32, after checking its shape; {@code dims} names the shape's parts for errors. */
    float[] floats(String name, String dims, long... shape) {
        SafetensorsTensor t = tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(String.format("%s: tensor %s has shape %s; expected %s = %s", file,
                    name, Arrays.toString(t.shape()), dims, Arrays.toString(shape)));
        }
        if (!t.dtype().isFloat()) {
            throw new IllegalArgumentException(String.format("%s: tensor %s is %s; expected F32, F16 or BF16", file,
                    name, t.dtype()));
        }
        claimed.add(name);
        return reader.readFloats(name);
    }

    /** An integer tensor of one element (circuit-tracer's {@code torch.tensor(k)}, shape []). */
    long scalar(String name) {
        SafetensorsTensor t = tensor(name);
        if (t.numel() != 1) {
            throw new IllegalArgumentException(String.format("%s: tensor %s has shape %s; expected one integer",
                    file, name, Arrays.toString(t.shape())));
        }
        claimed.add(name);
        return reader.readLongs(name)[0];
    }

    /** Marks a tensor as understood without reading it. */
    void ignore(String name) {
        claimed.add(name);
    }

    /** Fails if the file holds a tensor no one read; {@code what} says what the file was read as. */
    void requireAllClaimed(String what) {
        Set<String> left = new TreeSet<>(reader.names());
        left.removeAll(claimed);
        if (!left.isEmpty()) {
            throw new IllegalArgumentException(String.format("%s: unexpected tensors %s for %s (it holds %s)", file,
                    left, what, new TreeSet<>(reader.names())));
        }
    }

    private SafetensorsTensor tensor(String name) {
        if (!reader.contains(name)) {
            throw new IllegalArgumentException(String.format("%s lacks tensor %s (it holds %s)", file, name,
                    new TreeSet<>(reader.names())));
        }
        return reader.info(name);
    }

    /** A row-major [rows, cols] matrix as its row-major [cols, rows] transpose. */
    static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = m[r * cols + c];
            }
        }
        return t;
    }

    /** L from a TransformerLens hook name {@code blocks.L.…}; {@code where} names the file and key for errors. */
    static int layerOf(String hookName, String where) {
        Matcher m = BLOCK_HOOK.matcher(hookName);
        if (!m.matches()) {
            throw new IllegalArgumentException(String.format(
                    "%s: hook %s is not inside a block (blocks.L.…); a transcoder replaces one block's MLP",
                    where, hookName));
        }
        return Integer.parseInt(m.group(1));
    }

    /**
     * Checks that the hooks are where our models' MLPs read and write: a {@link Transcoder}'s config derives its
     * hooks from the layer alone, so a dictionary trained at any other point (say {@code hook_resid_mid}, which a
     * parallel-attention block does not even have) would be silently applied to the wrong activations.
     */
    static void requireMlpHooks(String in, String out, int layer, TranscoderKind kind, String where) {
        String expectedIn = HookNames.mlpIn(layer);
        String expectedOut = kind == TranscoderKind.TRANSCODER ? HookNames.mlpOut(layer) : expectedIn;
        if (!in.equals(expectedIn) || !out.equals(expectedOut)) {
            throw new IllegalArgumentException(String.format(
                    "%s: hooks %s -> %s; a %s of layer %d here must read %s and write %s, the points our models "
                            + "expose for the MLP", where, in, out, kind.configName(), layer, expectedIn, expectedOut));
        }
    }

    @Override
    public void close() {
        reader.close();
    }
}
