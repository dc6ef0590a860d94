package org.cellcircuits.transcoder;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SafetensorsTensor;
import org.cellcircuits.io.SafetensorsWriter;
import org.cellcircuits.model.MlpReplacement;

/**
 * A trained transcoder (or SAE) for one layer: an immutable model that maps MLP inputs to sparse feature
 * activations and those to an estimate of the MLP output.
 *
 * <pre>
 *   z = ReLU((x s_in) W_enc + b_enc)          W_enc [d_in, d_sae], b_enc [d_sae]
 *   y = (z W_dec + b_dec) / s_out             W_dec [d_sae, d_out], b_dec [d_out]
 * </pre>
 * x and y are in the model's own units; s_in and s_out are the training-time {@link ActivationScaling} factors,
 * which a folded transcoder (every saved or loaded one) carries inside its weights, so for it both are 1. The
 * layout, names and orientation are SAELens's ({@code sae_lens/saes/transcoder.py}: {@code sae_in @ W_enc + b_enc},
 * {@code feature_acts @ W_dec + b_dec}). circuit-tracer's {@code SingleLayerTranscoder}
 * ({@code circuit_tracer/transcoder/single_layer_transcoder.py}) stores W_enc transposed, [d_transcoder, d_model],
 * because it calls {@code F.linear}; its gemma-scope loader transposes W_enc on load, and the same one-line transpose
 * is needed to load our files there. The input is not centred by a decoder bias (DESIGN.md's x - b_dec_in):
 * SAELens refuses {@code apply_b_dec_to_input} for transcoders, whose b_dec lives in the output space.
 *
 * <p>The weights are fp32 and live in this transcoder's own manager; {@link #close()} frees them. Methods that take
 * an activation return arrays in that activation's manager.
 */
public final class Transcoder implements MlpReplacement, AutoCloseable {

    /** Tensor names in weights.safetensors, in the order flat gradients use. */
    public static final List<String> PARAMETER_NAMES = List.of("W_enc", "b_enc", "W_dec", "b_dec");
    public static final String WEIGHTS_FILE = "weights.safetensors";
    public static final String CONFIG_FILE = "cfg.json";

    private final TranscoderConfig config;
    private final ActivationScaling scaling;
    private final TrainingProvenance provenance;
    private final NDManager manager;
    private final NDArray wEnc;
    private final NDArray bEnc;
    private final NDArray wDec;
    private final NDArray bDec;

    /** Takes ownership of {@code manager}, which must hold the four arrays. */
    Transcoder(TranscoderConfig config, ActivationScaling scaling, TrainingProvenance provenance, NDManager manager,
            NDArray wEnc, NDArray bEnc, NDArray wDec, NDArray bDec) {
        this.config = Objects.requireNonNull(config, "config");
        this.scaling = Objects.requireNonNull(scaling, "scaling");
        this.provenance = Objects.requireNonNull(provenance, "provenance");
        this.manager = manager;
        this.wEnc = wEnc;
        this.bEnc = bEnc;
        this.wDec = wDec;
        this.bDec = bDec;
        long[][] expected = shapes(config);
        NDArray[] arrays = {wEnc, bEnc, wDec, bDec};
        for (int i = 0; i < arrays.length; i++) {
            if (!arrays[i].getShape().equals(new Shape(expected[i]))) {
                throw new IllegalArgumentException(String.format("%s has shape %s; config needs %s",
                        PARAMETER_NAMES.get(i), arrays[i].getShape(), Arrays.toString(expected[i])));
            }
        }
    }

    /** Shapes of W_enc, b_enc, W_dec, b_dec for a config. */
    static long[][] shapes(TranscoderConfig c) {
        return new long[][] {{c.dIn(), c.dSae()}, {c.dSae()}, {c.dSae(), c.dOut()}, {c.dOut()}};
    }

    /** Builds a transcoder from row-major fp32 values (in {@link #PARAMETER_NAMES} order) on {@code device}. */
    public static Transcoder of(TranscoderConfig config, ActivationScaling scaling, TrainingProvenance provenance,
            Device device, float[] wEnc, float[] bEnc, float[] wDec, float[] bDec) {
        NDManager m = NDManager.newBaseManager(device);
        try {
            long[][] s = shapes(config);
            float[][] values = {wEnc, bEnc, wDec, bDec};
            NDArray[] arrays = new NDArray[4];
            for (int i = 0; i < 4; i++) {
                if (values[i].length != new Shape(s[i]).size()) {
                    throw new IllegalArgumentException(String.format("%s has %d values; shape %s needs %d",
                            PARAMETER_NAMES.get(i), values[i].length, Arrays.toString(s[i]), new Shape(s[i]).size()));
                }
                arrays[i] = m.create(values[i], new Shape(s[i]));
            }
            return new Transcoder(config, scaling, provenance, m, arrays[0], arrays[1], arrays[2], arrays[3]);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    public TranscoderConfig config() {
        return config;
    }

    public ActivationScaling scaling() {
        return scaling;
    }

    public TrainingProvenance provenance() {
        return provenance;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** One weight by its safetensors name (W_enc, b_enc, W_dec, b_dec), as stored: folded or not. */
    public NDArray weight(String name) {
        return switch (name) {
            case "W_enc" -> wEnc;
            case "b_enc" -> bEnc;
            case "W_dec" -> wDec;
            case "b_dec" -> bDec;
            default -> throw new IllegalArgumentException(
                    "transcoder has no weight " + name + "; it has " + PARAMETER_NAMES);
        };
    }

    /** Feature activations z (..., d_sae) of MLP inputs x (..., d_in). */
    public NDArray encode(NDArray x) {
        checkWidth(x, config.dIn(), "input (" + config.hookNameIn() + ")");
        NDArray in = aligned(x);
        NDArray scaled = scaling.folded() ? in : in.mul((float) scaling.input());
        return scaled.matMul(wEnc).addi(bEnc).maximum(0f);
    }

    /** The MLP-output estimate (..., d_out), in model units, of feature activations z (..., d_sae). */
    public NDArray decode(NDArray z) {
        checkWidth(z, config.dSae(), "feature activations");
        NDArray y = aligned(z).matMul(wDec).addi(bDec);
        return scaling.folded() ? y : y.divi((float) scaling.target());
    }

    /** decode(encode(x)), returned in x's type and on x's device. */
    public NDArray forward(NDArray x) {
        NDArray y = decode(encode(x));
        return y.toType(x.getDataType(), false).toDevice(x.getDevice(), false);
    }

    /** Stands in for a block's MLP: mlpIn (B, T, d_model) -> (B, T, d_model). */
    @Override
    public NDArray apply(NDArray mlpIn) {
        if (config.kind() != TranscoderKind.TRANSCODER) {
            throw new IllegalStateException(String.format(
                    "layer %d's dictionary is an SAE (it reconstructs the MLP input); only a transcoder can replace the MLP",
                    config.layer()));
        }
        return forward(mlpIn);
    }

    private NDArray aligned(NDArray a) {
        return a.toType(DataType.FLOAT32, false).toDevice(manager.getDevice(), false);
    }

    private static void checkWidth(NDArray a, long width, String what) {
        Shape s = a.getShape();
        if (s.dimension() == 0 || s.get(s.dimension() - 1) != width) {
            throw new IllegalArgumentException(String.format(
                    "%s has shape %s; the transcoder needs its last dimension to be %d", what, s, width));
        }
    }

    /** The same transcoder with the scaling factors multiplied into the weights (a copy; this one is unchanged). */
    public Transcoder folded() {
        float[][] w = foldedValues();
        return of(config, scaling.asFolded(), provenance, device(), w[0], w[1], w[2], w[3]);
    }

    /** The same transcoder with another provenance (a copy). */
    Transcoder withProvenance(TrainingProvenance p) {
        return of(config, scaling, p, device(), wEnc.toFloatArray(), bEnc.toFloatArray(), wDec.toFloatArray(),
                bDec.toFloatArray());
    }

    /** Folded weights in Java arrays; float products, so they equal what torch's fp32 multiply gives. */
    private float[][] foldedValues() {
        float[] we = wEnc.toFloatArray();
        float[] be = bEnc.toFloatArray();
        float[] wd = wDec.toFloatArray();
        float[] bd = bDec.toFloatArray();
        if (!scaling.folded()) {
            float sIn = (float) scaling.input();
            float sOut = (float) scaling.target();
            for (int i = 0; i < we.length; i++) {
                we[i] *= sIn;
            }
            for (int i = 0; i < wd.length; i++) {
                wd[i] /= sOut;
            }
            for (int i = 0; i < bd.length; i++) {
                bd[i] /= sOut;
            }
        }
        return new float[][] {we, be, wd, bd};
    }

    // ---- persistence -------------------------------------------------------------------------------------------

    /**
     * Writes {@code weights.safetensors} (folded, F32) and {@code cfg.json} (SAELens/circuit-tracer keys, see
     * {@link TranscoderCfgJson}) into {@code dir}, weights first so that a folder with a cfg.json is complete.
     */
    public void save(Path dir) {
        float[][] w = foldedValues();
        long[][] s = shapes(config);
        SafetensorsWriter writer = new SafetensorsWriter();
        for (int i = 0; i < 4; i++) {
            writer.add(PARAMETER_NAMES.get(i), w[i], s[i], SafetensorsDType.F32);
        }
        writer.metadata("cellcircuits_config_hash", provenance.configHash());
        try {
            Files.createDirectories(dir);
            writer.write(dir.resolve(WEIGHTS_FILE));
            JsonObject cfg = TranscoderCfgJson.write(config, scaling.asFolded(), provenance);
            String text = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create()
                    .toJson(cfg);
            Files.writeString(dir.resolve(CONFIG_FILE), text + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write transcoder to " + dir, e);
        }
    }

    /** Reads a folder written by {@link #save}; weights go to {@code device}. */
    public static Transcoder load(Path dir, Device device) {
        Path cfgFile = dir.resolve(CONFIG_FILE);
        Path weightsFile = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(cfgFile)) {
            throw new IllegalArgumentException(String.format(
                    "transcoder folder %s has no %s; was it written by the train stage?", dir, CONFIG_FILE));
        }
        if (!Files.isRegularFile(weightsFile)) {
            throw new IllegalArgumentException(String.format(
                    "transcoder folder %s has %s but no %s", dir, CONFIG_FILE, WEIGHTS_FILE));
        }
        JsonObject json;
        try {
            json = JsonParser.parseString(Files.readString(cfgFile, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + cfgFile, e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(cfgFile + " is not a JSON object: " + e.getMessage(), e);
        }
        TranscoderCfgJson.Parsed parsed = TranscoderCfgJson.read(json, cfgFile.toString());
        TranscoderConfig c = parsed.config();
        long[][] s = shapes(c);
        float[][] values = new float[4][];
        try (SafetensorsReader reader = SafetensorsReader.open(weightsFile)) {
            for (int i = 0; i < 4; i++) {
                String name = PARAMETER_NAMES.get(i);
                SafetensorsTensor t = reader.info(name);
                if (!Arrays.equals(t.shape(), s[i])) {
                    throw new IllegalArgumentException(String.format(
                            "%s: tensor %s has shape %s; %s says %s", weightsFile, name, Arrays.toString(t.shape()),
                            cfgFile, Arrays.toString(s[i])));
                }
                values[i] = reader.readFloats(name);
            }
        }
        return of(c, parsed.scaling(), parsed.provenance(), device, values[0], values[1], values[2], values[3]);
    }

    @Override
    public void close() {
        manager.close();
    }
}
