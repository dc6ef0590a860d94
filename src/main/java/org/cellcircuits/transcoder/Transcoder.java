package org.cellcircuits.transcoder;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
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
 *   pre = (x s_in) W_enc + b_enc                W_enc [d_in, d_sae], b_enc [d_sae]
 *   z   = act(pre)                              relu: max(pre, 0); topk: the k largest positive pre of the token;
 *                                               jumprelu (and batchtopk, saved so): pre where pre > threshold, else 0
 *   y   = (z W_dec + b_dec + (x s_in) W_skip^T) / s_out     W_dec [d_sae, d_out], b_dec [d_out], W_skip [d_out, d_in]
 * </pre>
 * x and y are in the model's own units; s_in and s_out are the training-time {@link ActivationScaling} factors,
 * which a folded transcoder (every saved or loaded one) carries inside its weights, so for it both are 1. The
 * layout, names and orientation are SAELens's ({@code sae_lens/saes/transcoder.py}: {@code sae_in @ W_enc + b_enc},
 * {@code feature_acts @ W_dec + b_dec}, {@code x @ W_skip.T}; {@code threshold} of its JumpReLU transcoder).
 * circuit-tracer's {@code SingleLayerTranscoder} ({@code circuit_tracer/transcoder/single_layer_transcoder.py})
 * stores W_enc transposed, [d_transcoder, d_model], because it calls {@code F.linear}, and the threshold as
 * {@code activation_function.threshold}; its W_skip is ours. {@link CircuitTracerTranscoder} reads its files. The
 * input is not centred by a decoder bias (DESIGN.md's x - b_dec_in): SAELens refuses {@code apply_b_dec_to_input}
 * for transcoders, whose b_dec lives in the output space.
 *
 * <p>The weights are fp32 and live in this transcoder's own manager; {@link #close()} frees them. Methods that take
 * an activation return arrays in that activation's manager.
 */
public final class Transcoder implements MlpReplacement, AutoCloseable {

    /** The tensors every transcoder has in weights.safetensors, first, in the order flat gradients use. */
    public static final List<String> PARAMETER_NAMES = List.of("W_enc", "b_enc", "W_dec", "b_dec");
    /** The JumpReLU threshold [d_sae] (jumprelu, batchtopk). */
    public static final String THRESHOLD = "threshold";
    /** The skip connection [d_out, d_in]. */
    public static final String W_SKIP = "W_skip";
    public static final String WEIGHTS_FILE = "weights.safetensors";
    public static final String CONFIG_FILE = "cfg.json";

    private final TranscoderConfig config;
    private final Activation activation;
    private final ActivationScaling scaling;
    private final TrainingProvenance provenance;
    private final NDManager manager;
    private final NDArray wEnc;
    private final NDArray bEnc;
    private final NDArray wDec;
    private final NDArray bDec;
    private final NDArray threshold;
    private final NDArray wSkip;

    /** Takes ownership of {@code manager}, which must hold the arrays, in {@link #parameterNames} order. */
    Transcoder(TranscoderConfig config, ActivationScaling scaling, TrainingProvenance provenance, NDManager manager,
            List<NDArray> arrays) {
        this.config = Objects.requireNonNull(config, "config");
        this.activation = config.activation().atInference();
        this.scaling = Objects.requireNonNull(scaling, "scaling");
        this.provenance = Objects.requireNonNull(provenance, "provenance");
        this.manager = manager;
        List<String> names = parameterNames(config);
        long[][] expected = shapes(config);
        if (arrays.size() != names.size()) {
            throw new IllegalArgumentException(String.format("%d weight arrays; a %s transcoder has %s", arrays.size(),
                    config.architecture().saeLensArchitecture(config.kind()), names));
        }
        for (int i = 0; i < arrays.size(); i++) {
            if (!arrays.get(i).getShape().equals(new Shape(expected[i]))) {
                throw new IllegalArgumentException(String.format("%s has shape %s; config needs %s",
                        names.get(i), arrays.get(i).getShape(), Arrays.toString(expected[i])));
            }
        }
        this.wEnc = arrays.get(0);
        this.bEnc = arrays.get(1);
        this.wDec = arrays.get(2);
        this.bDec = arrays.get(3);
        int next = 4;
        this.threshold = activation.hasThreshold() ? arrays.get(next++) : null;
        this.wSkip = config.skipConnection() ? arrays.get(next) : null;
    }

    /** The tensors of a transcoder of this config, in order: W_enc, b_enc, W_dec, b_dec[, threshold][, W_skip]. */
    public static List<String> parameterNames(TranscoderConfig c) {
        List<String> names = new java.util.ArrayList<>(PARAMETER_NAMES);
        if (c.activation().hasThreshold()) {
            names.add(THRESHOLD);
        }
        if (c.skipConnection()) {
            names.add(W_SKIP);
        }
        return List.copyOf(names);
    }

    /** Shapes of {@link #parameterNames} for a config. */
    static long[][] shapes(TranscoderConfig c) {
        List<long[]> s = new java.util.ArrayList<>(List.of(new long[] {c.dIn(), c.dSae()}, new long[] {c.dSae()},
                new long[] {c.dSae(), c.dOut()}, new long[] {c.dOut()}));
        if (c.activation().hasThreshold()) {
            s.add(new long[] {c.dSae()});
        }
        if (c.skipConnection()) {
            s.add(new long[] {c.dOut(), c.dIn()});
        }
        return s.toArray(new long[0][]);
    }

    /** Builds a transcoder from row-major fp32 values (in {@link #parameterNames} order) on {@code device}. */
    public static Transcoder of(TranscoderConfig config, ActivationScaling scaling, TrainingProvenance provenance,
            Device device, float[]... values) {
        NDManager m = NDManager.newBaseManager(device);
        try {
            long[][] s = shapes(config);
            List<String> names = parameterNames(config);
            if (values.length != names.size()) {
                throw new IllegalArgumentException(String.format("%d weight arrays; a %s transcoder has %s",
                        values.length, config.architecture().saeLensArchitecture(config.kind()), names));
            }
            List<NDArray> arrays = new java.util.ArrayList<>();
            for (int i = 0; i < values.length; i++) {
                if (values[i].length != new Shape(s[i]).size()) {
                    throw new IllegalArgumentException(String.format("%s has %d values; shape %s needs %d",
                            names.get(i), values[i].length, Arrays.toString(s[i]), new Shape(s[i]).size()));
                }
                arrays.add(m.create(values[i], new Shape(s[i])));
            }
            return new Transcoder(config, scaling, provenance, m, arrays);
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

    /** The activation function this transcoder applies (BatchTopK-trained ones apply JumpReLU). */
    public Activation activation() {
        return activation;
    }

    /** Whether the output has the skip path x W_skip^T. */
    public boolean hasSkip() {
        return wSkip != null;
    }

    /** One weight by its safetensors name ({@link #parameterNames}), as stored: folded or not. */
    public NDArray weight(String name) {
        NDArray w = switch (name) {
            case "W_enc" -> wEnc;
            case "b_enc" -> bEnc;
            case "W_dec" -> wDec;
            case "b_dec" -> bDec;
            case THRESHOLD -> threshold;
            case W_SKIP -> wSkip;
            default -> null;
        };
        if (w == null) {
            throw new IllegalArgumentException("transcoder has no weight " + name + "; it has "
                    + parameterNames(config));
        }
        return w;
    }

    /** Feature activations z (..., d_sae) of MLP inputs x (..., d_in). */
    public NDArray encode(NDArray x) {
        checkWidth(x, config.dIn(), "input (" + config.hookNameIn() + ")");
        return activate(scaledInput(x).matMul(wEnc).addi(bEnc));
    }

    /**
     * The activation function applied to pre-activations (..., d_sae): every output entry is 0 or the entry of
     * {@code pre} itself, so given the active set a feature is linear in its input.
     */
    public NDArray activate(NDArray pre) {
        checkWidth(pre, config.dSae(), "pre-activations");
        return switch (activation) {
            case RELU -> pre.maximum(0f);
            case TOPK -> RankSelection.perToken(pre, config.architecture().k()).z();
            case JUMPRELU -> pre.mul(pre.gt(threshold.toDevice(pre.getDevice(), false).toType(pre.getDataType(), false))
                    .toType(pre.getDataType(), false));
            case BATCHTOPK -> throw new IllegalStateException("a saved transcoder applies batchtopk as jumprelu");
        };
    }

    /** The MLP-output estimate (..., d_out), in model units, of feature activations z alone (no skip path). */
    public NDArray decode(NDArray z) {
        checkWidth(z, config.dSae(), "feature activations");
        NDArray y = aligned(z).matMul(wDec).addi(bDec);
        return scaling.folded() ? y : y.divi((float) scaling.target());
    }

    /**
     * The MLP-output estimate (..., d_out) of feature activations z and the inputs x they came from: the decoded
     * features plus, with a skip connection, x W_skip^T (circuit-tracer's {@code decode(acts, input_acts)}).
     */
    public NDArray decode(NDArray z, NDArray x) {
        NDArray y = decode(z);
        if (wSkip != null) {
            checkWidth(x, config.dIn(), "input (" + config.hookNameIn() + ")");
            NDArray skip = scaledInput(x).matMul(wSkip.transpose());
            y.addi(scaling.folded() ? skip : skip.divi((float) scaling.target()));
        }
        return y;
    }

    /** decode(encode(x), x), returned in x's type and on x's device. */
    public NDArray forward(NDArray x) {
        NDArray y = decode(encode(x), x);
        return y.toType(x.getDataType(), false).toDevice(x.getDevice(), false);
    }

    private NDArray scaledInput(NDArray x) {
        NDArray in = aligned(x);
        return scaling.folded() ? in : in.mul((float) scaling.input());
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
        return of(config, scaling.asFolded(), provenance, device(), foldedValues());
    }

    /** The same transcoder with another provenance (a copy). */
    Transcoder withProvenance(TrainingProvenance p) {
        return of(config, scaling, p, device(), values());
    }

    private float[][] values() {
        List<String> names = parameterNames(config);
        float[][] v = new float[names.size()][];
        for (int i = 0; i < v.length; i++) {
            v[i] = weight(names.get(i)).toFloatArray();
        }
        return v;
    }

    /**
     * Folded weights in Java arrays, in {@link #parameterNames} order; float products, so they equal what torch's
     * fp32 multiply gives. The threshold compares pre-activations, which folding leaves unchanged; W_skip maps scaled
     * input to scaled output, so it takes s_in / s_out.
     */
    private float[][] foldedValues() {
        float[][] all = values();
        float[] we = all[0];
        float[] wd = all[2];
        float[] bd = all[3];
        if (!scaling.folded()) {
            if (wSkip != null) {
                float[] ws = all[all.length - 1];
                float f = (float) (scaling.input() / scaling.target());
                for (int i = 0; i < ws.length; i++) {
                    ws[i] *= f;
                }
            }
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
        return all;
    }

    // ---- persistence -------------------------------------------------------------------------------------------

    /**
     * Writes {@code weights.safetensors} (folded, F32) and {@code cfg.json} (SAELens/circuit-tracer keys, see
     * {@link TranscoderCfgJson}) into {@code dir}, weights first so that a folder with a cfg.json is complete.
     */
    public void save(Path dir) {
        float[][] w = foldedValues();
        long[][] s = shapes(config);
        List<String> names = parameterNames(config);
        SafetensorsWriter writer = new SafetensorsWriter();
        for (int i = 0; i < w.length; i++) {
            writer.add(names.get(i), w[i], s[i], SafetensorsDType.F32);
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
        JsonObject json = TranscoderCfgJson.readObject(cfgFile);
        TranscoderCfgJson.Parsed parsed = TranscoderCfgJson.read(json, cfgFile.toString());
        TranscoderConfig c = parsed.config();
        long[][] s = shapes(c);
        List<String> names = parameterNames(c);
        float[][] values = new float[names.size()][];
        try (SafetensorsReader reader = SafetensorsReader.open(weightsFile)) {
            for (int i = 0; i < values.length; i++) {
                String name = names.get(i);
                SafetensorsTensor t = reader.info(name);
                if (!Arrays.equals(t.shape(), s[i])) {
                    throw new IllegalArgumentException(String.format(
                            "%s: tensor %s has shape %s; %s says %s", weightsFile, name, Arrays.toString(t.shape()),
                            cfgFile, Arrays.toString(s[i])));
                }
                values[i] = reader.readFloats(name);
            }
        }
        return of(c, parsed.scaling(), parsed.provenance(), device, values);
    }

    @Override
    public void close() {
        manager.close();
    }
}
