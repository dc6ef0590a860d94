package org.cellcircuits.transcoder;

import ai.djl.Device;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Reads one layer's file of a circuit-tracer transcoder set, as {@code SingleLayerTranscoder.to_safetensors} writes
 * it ({@code circuit_tracer/transcoder/single_layer_transcoder.py}), and returns it as a folded {@link Transcoder}.
 *
 * <p>The file holds W_enc [d_transcoder, d_model] (transposed against ours: circuit-tracer encodes with
 * {@code F.linear(x, W_enc, b_enc)}), W_dec [d_transcoder, d_model], b_enc, b_dec, and optionally
 * {@code activation_function.threshold} [d_transcoder] (JumpReLU), {@code k} (a 0-d integer, TopK) and W_skip
 * [d_model, d_model] (ours). The rest, the hooks, the activation and k, circuit-tracer keeps in the set's
 * {@code config.yaml} ({@code circuit_tracer/utils/hf_utils.py} {@code load_transcoders}), so the caller passes it
 * as a {@link SetConfig}; the layer is the file's index in the set's {@code transcoders} list.
 *
 * <p>Outputs agree with circuit-tracer's: its JumpReLU is {@code x * (x > threshold)} and its ReLU
 * {@code F.relu}, both ours. Its TopK keeps the k largest pre-activations even when some are negative, ours only the
 * positive ones, so the two agree when every token has at least k positive pre-activations (the trained regime).
 */
public final class CircuitTracerTranscoder {

    /** The names in a file written by {@code to_safetensors}. */
    public static final String THRESHOLD = "activation_function.threshold";
    public static final String K = "k";

    /**
     * What a circuit-tracer {@code config.yaml} says of every layer.
     *
     * @param modelName         {@code model_name}
     * @param featureInputHook  {@code feature_input_hook}, relative to the block ("ln2.hook_normalized") as
     *                          circuit-tracer writes it, or a full {@code blocks.L.} name
     * @param featureOutputHook {@code feature_output_hook} ("hook_mlp_out")
     * @param activation        {@code activation}: "relu", "topk", "jump_relu", or null to decide from the tensors
     *                          (a threshold makes it JumpReLU, as {@code load_transcoder} decides; a {@code k} tensor
     *                          TopK; neither ReLU)
     * @param k                 {@code k} for "topk", or null to take it from the file's {@code k} tensor
     */
    public record SetConfig(String modelName, String featureInputHook, String featureOutputHook, String activation,
            Integer k) {
        public SetConfig {
            Objects.requireNonNull(modelName, "modelName");
            Objects.requireNonNull(featureInputHook, "featureInputHook");
            Objects.requireNonNull(featureOutputHook, "featureOutputHook");
        }
    }

    private CircuitTracerTranscoder() {}

    /** Reads layer {@code layer}'s file; weights go to {@code device}. */
    public static Transcoder load(Path file, int layer, SetConfig set, Device device) {
        String where = file.toString();
        String hookIn = blockHook(set.featureInputHook(), layer);
        String hookOut = blockHook(set.featureOutputHook(), layer);
        AnchorWeights.requireMlpHooks(hookIn, hookOut, layer, TranscoderKind.TRANSCODER, where + " (set config)");
        List<float[]> values = new ArrayList<>();
        TranscoderConfig config;
        try (AnchorWeights w = AnchorWeights.open(file)) {
            // load_transcoder takes the sizes from the biases; the matrices are then checked against them
            int dSae = oneDim(w, "b_enc", "[d_transcoder]");
            int dModel = oneDim(w, "b_dec", "[d_model]");
            Activation activation = activation(set, w, where);
            int k = 32;
            if (activation == Activation.TOPK) {
                k = topK(set, w, where);
            }
            boolean skip = w.has("W_skip");
            config = TranscoderConfig.builder().modelName(set.modelName()).layer(layer).dIn(dModel).dOut(dModel)
                    .dSae(dSae).activation(activation).k(k).skipConnection(skip).build();
            float[] wEnc = w.floats("W_enc", "[d_transcoder, d_model]", dSae, dModel);
            values.add(AnchorWeights.transpose(wEnc, dSae, dModel));
            values.add(w.floats("b_enc", "[d_transcoder]", dSae));
            values.add(w.floats("W_dec", "[d_transcoder, d_model]", dSae, dModel));
            values.add(w.floats("b_dec", "[d_model]", dModel));
            if (activation == Activation.JUMPRELU) {
                values.add(w.floats(THRESHOLD, "[d_transcoder]", dSae));
            }
            if (skip) {
                values.add(w.floats("W_skip", "[d_model, d_model]", dModel, dModel));
            }
            w.requireAllClaimed("a circuit-tracer " + config.architecture().circuitTracerActivation()
                    + " transcoder");
        }
        TrainingProvenance p = TrainingProvenance.imported(String.format("circuit_tracer %s layer %d %s",
                config.architecture().circuitTracerActivation(), layer, file.toAbsolutePath().normalize()));
        return Transcoder.of(config, new ActivationScaling(1, 1, true), p, device, values.toArray(new float[0][]));
    }

    /** circuit-tracer's hooks are block-relative; TransformerLens prefixes them with {@code blocks.L.}. */
    private static String blockHook(String hook, int layer) {
        return hook.startsWith("blocks.") ? hook : "blocks." + layer + "." + hook;
    }

    private static int oneDim(AnchorWeights w, String name, String dims) {
        long[] s = w.shape(name);
        if (s.length != 1) {
            throw new IllegalArgumentException(String.format("%s: tensor %s has shape %s; expected %s", w.file(),
                    name, java.util.Arrays.toString(s), dims));
        }
        return Math.toIntExact(s[0]);
    }

    /** load_transcoder_set's choice, refusing what its strict load_state_dict would refuse. */
    private static Activation activation(SetConfig set, AnchorWeights w, String where) {
        String a = set.activation() == null ? null : set.activation().trim().toLowerCase(Locale.ROOT);
        boolean threshold = w.has(THRESHOLD);
        if (a == null) {
            return threshold ? Activation.JUMPRELU : w.has(K) ? Activation.TOPK : Activation.RELU;
        }
        switch (a) {
            case "relu", "topk" -> {
                if (threshold) {
                    throw new IllegalArgumentException(String.format(
                            "%s holds %s but the set's activation is %s; circuit-tracer would refuse the unexpected "
                                    + "tensor too", where, THRESHOLD, a));
                }
                return a.equals("relu") ? Activation.RELU : Activation.TOPK;
            }
            case "jump_relu" -> {
                if (!threshold) {
                    throw new IllegalArgumentException(String.format(
                            "%s lacks tensor %s, which the set's activation jump_relu needs", where, THRESHOLD));
                }
                return Activation.JUMPRELU;
            }
            default -> throw new IllegalArgumentException(String.format(
                    "%s: activation %s is not relu, topk or jump_relu", where, set.activation()));
        }
    }

    private static int topK(SetConfig set, AnchorWeights w, String where) {
        Long inFile = w.has(K) ? w.scalar(K) : null;
        if (set.k() == null && inFile == null) {
            throw new IllegalArgumentException(String.format(
                    "%s: activation topk needs k, and neither the set config nor the file's tensor %s gives it",
                    where, K));
        }
        if (set.k() != null && inFile != null && set.k() != inFile.longValue()) {
            throw new IllegalArgumentException(String.format("%s: tensor %s is %d but the set config's k is %d",
                    where, K, inFile, set.k()));
        }
        return set.k() != null ? set.k() : Math.toIntExact(inFile);
    }
}
