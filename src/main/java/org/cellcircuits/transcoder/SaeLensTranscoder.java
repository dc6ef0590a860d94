package org.cellcircuits.transcoder;

import ai.djl.Device;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a folder saved by SAELens 6 ({@code SAE.save_model}, {@code sae_lens/saes/sae.py}): {@code cfg.json}
 * ({@code SAEConfig.to_dict()}) and {@code sae_weights.safetensors} ({@code sae_lens/constants.py}), and returns the
 * same transcoder or SAE as a folded {@link Transcoder}, so that one trained with SAELens can be compared with ours
 * or run in our circuits.
 *
 * <p>Architectures ({@code architecture} of cfg.json), with the tensors each needs (all in our orientation, which is
 * SAELens's): "transcoder", "skip_transcoder" (+ W_skip [d_out, d_in]), "jumprelu_transcoder" (+ threshold)
 * ({@code sae_lens/saes/transcoder.py}); for SAEs "standard", "topk" ({@code k}) and "jumprelu" (+ threshold). Our
 * own names for what SAELens 6.18 has no class for, "jumprelu_skip_transcoder", "topk_transcoder" and
 * "topk_skip_transcoder" ({@link TranscoderArchitecture#saeLensArchitecture}), are read by the same rules.
 *
 * <p>Where SAELens computes something our {@link Transcoder} does not, the weights are rewritten so the outputs are
 * the same, or the file is refused:
 * <ul>
 *   <li>JumpReLU: SAELens computes {@code relu(pre) * (pre > threshold)}, we {@code pre * (pre > threshold)}; the two
 *       differ only for a negative threshold, and {@code relu(pre) * (pre > t) = pre * (pre > max(t, 0))}, so the
 *       threshold is read as max(t, 0).</li>
 *   <li>TopK with {@code rescale_acts_by_decoder_norm}: pre-activations are multiplied by the decoder row norms n
 *       before the top k are chosen and divided by them again before decoding; SAELens's own
 *       {@code _fold_norm_topk} (W_enc * n, b_enc * n, W_dec / n) gives the same outputs without it.</li>
 *   <li>Refused: {@code normalize_activations} other than "none" (an unfolded scaling factor lives outside these
 *       files), {@code apply_b_dec_to_input} true (our encoder does not centre its input), {@code reshape_activations}
 *       other than "none", a head index, hooks other than our MLP's, and configs without {@code metadata} (SAELens
 *       before 6).</li>
 * </ul>
 * Tensors are widened to fp32 whatever {@code dtype} says; SAELens would cast them to that dtype.
 */
public final class SaeLensTranscoder {

    /** {@code SAE_WEIGHTS_FILENAME}. */
    public static final String WEIGHTS_FILE = "sae_weights.safetensors";
    /** {@code SAE_CFG_FILENAME}. */
    public static final String CONFIG_FILE = "cfg.json";

    private record Architecture(TranscoderKind kind, Activation activation, boolean skip) {}

    private static final Map<String, Architecture> ARCHITECTURES = new LinkedHashMap<>();

    static {
        ARCHITECTURES.put("transcoder", new Architecture(TranscoderKind.TRANSCODER, Activation.RELU, false));
        ARCHITECTURES.put("skip_transcoder", new Architecture(TranscoderKind.TRANSCODER, Activation.RELU, true));
        ARCHITECTURES.put("jumprelu_transcoder",
                new Architecture(TranscoderKind.TRANSCODER, Activation.JUMPRELU, false));
        ARCHITECTURES.put("jumprelu_skip_transcoder",
                new Architecture(TranscoderKind.TRANSCODER, Activation.JUMPRELU, true));
        ARCHITECTURES.put("topk_transcoder", new Architecture(TranscoderKind.TRANSCODER, Activation.TOPK, false));
        ARCHITECTURES.put("topk_skip_transcoder", new Architecture(TranscoderKind.TRANSCODER, Activation.TOPK, true));
        ARCHITECTURES.put("standard", new Architecture(TranscoderKind.SAE, Activation.RELU, false));
        ARCHITECTURES.put("topk", new Architecture(TranscoderKind.SAE, Activation.TOPK, false));
        ARCHITECTURES.put("jumprelu", new Architecture(TranscoderKind.SAE, Activation.JUMPRELU, false));
    }

    private SaeLensTranscoder() {}

    /** Reads {@code dir}/cfg.json and {@code dir}/sae_weights.safetensors; weights go to {@code device}. */
    public static Transcoder load(Path dir, Device device) {
        Path cfgFile = dir.resolve(CONFIG_FILE);
        Path weightsFile = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(cfgFile) || !Files.isRegularFile(weightsFile)) {
            String ours = Files.isRegularFile(dir.resolve(Transcoder.WEIGHTS_FILE))
                    ? "; it has " + Transcoder.WEIGHTS_FILE + ", so it is ours: use Transcoder.load" : "";
            throw new IllegalArgumentException(String.format("%s is not a SAELens folder: it needs %s and %s%s", dir,
                    CONFIG_FILE, WEIGHTS_FILE, ours));
        }
        JsonObject json = TranscoderCfgJson.readObject(cfgFile);
        String where = cfgFile.toString();
        TranscoderConfig.JsonFields f = new TranscoderConfig.JsonFields(json, where);

        String name = f.string("architecture");
        Architecture arch = ARCHITECTURES.get(name);
        if (arch == null) {
            throw new IllegalArgumentException(String.format("%s: architecture %s is not one this loader reads: %s",
                    where, name, ARCHITECTURES.keySet()));
        }
        String normalize = f.string("normalize_activations");
        if (!normalize.equals("none")) {
            throw new IllegalArgumentException(String.format(
                    "%s: normalize_activations is %s; need none (fold the scaling factor into the weights with "
                            + "SAELens's fold_activation_norm_scaling_factor and save again)", where, normalize));
        }
        if (f.bool("apply_b_dec_to_input")) {
            throw new IllegalArgumentException(String.format(
                    "%s: apply_b_dec_to_input is true; need false (our encoder reads x, not x - b_dec)", where));
        }
        if (json.has("reshape_activations") && !f.string("reshape_activations").equals("none")) {
            throw new IllegalArgumentException(String.format("%s: reshape_activations is %s; need none", where,
                    f.string("reshape_activations")));
        }
        if (!json.has("metadata")) {
            throw new IllegalArgumentException(String.format(
                    "%s lacks key metadata: written by SAELens before 6? load it with SAELens 6 and save_model again",
                    where));
        }
        TranscoderConfig.JsonFields meta = new TranscoderConfig.JsonFields(f.object("metadata"), where + " (metadata)");
        JsonObject metaJson = f.object("metadata");
        JsonElement head = metaJson.get("hook_head_index");
        if (head != null && !head.isJsonNull()) {
            throw new IllegalArgumentException(String.format(
                    "%s: metadata.hook_head_index is %s; a per-head SAE is not an MLP transcoder", where, head));
        }
        String hookIn = meta.string("hook_name");
        int layer = AnchorWeights.layerOf(hookIn, where + " (metadata.hook_name)");
        boolean hasOut = metaJson.has("hook_name_out") && !metaJson.get("hook_name_out").isJsonNull();
        String hookOut = arch.kind() == TranscoderKind.SAE && !hasOut ? hookIn : meta.string("hook_name_out");
        AnchorWeights.requireMlpHooks(hookIn, hookOut, layer, arch.kind(), where);

        int dIn = f.integer("d_in");
        int dSae = f.integer("d_sae");
        int dOut = arch.kind() == TranscoderKind.TRANSCODER ? f.integer("d_out") : dIn;
        boolean topk = arch.activation() == Activation.TOPK;
        TranscoderConfig.Builder b = TranscoderConfig.builder().kind(arch.kind()).modelName(meta.string("model_name"))
                .layer(layer).dIn(dIn).dOut(dOut).dSae(dSae).activation(arch.activation())
                .skipConnection(arch.skip());
        if (topk) {
            b.k(f.integer("k"));
        }
        TranscoderConfig config = b.build();

        List<float[]> values = new ArrayList<>();
        try (AnchorWeights w = AnchorWeights.open(weightsFile)) {
            float[] wEnc = w.floats("W_enc", "[d_in, d_sae]", dIn, dSae);
            float[] bEnc = w.floats("b_enc", "[d_sae]", dSae);
            float[] wDec = w.floats("W_dec", "[d_sae, d_out]", dSae, dOut);
            float[] bDec = w.floats("b_dec", "[d_out]", dOut);
            if (topk && json.has("rescale_acts_by_decoder_norm") && f.bool("rescale_acts_by_decoder_norm")) {
                foldDecoderNorms(wEnc, bEnc, wDec, dIn, dSae, dOut);
            }
            values.addAll(List.of(wEnc, bEnc, wDec, bDec));
            if (config.activation().hasThreshold()) {
                float[] t = w.floats("threshold", "[d_sae]", dSae);
                for (int i = 0; i < t.length; i++) {
                    t[i] = Math.max(t[i], 0f);
                }
                values.add(t);
            }
            if (config.skipConnection()) {
                values.add(w.floats("W_skip", "[d_out, d_in]", dOut, dIn));
            }
            if (w.has("scaling_factor")) {
                // read_sae_components_from_disk drops an all-ones one (older files always had it) and uses any other
                // as a fine-tuning factor, which this loader does not apply
                float[] s = w.floats("scaling_factor", "[d_sae]", dSae);
                for (float v : s) {
                    if (v != 1f) {
                        throw new IllegalArgumentException(String.format(
                                "%s: scaling_factor is not all ones; a fine-tuning scaling factor is not supported",
                                weightsFile));
                    }
                }
            }
            w.requireAllClaimed("SAELens architecture " + name);
        }
        String version = metaJson.has("sae_lens_version") ? meta.string("sae_lens_version") : "?";
        TrainingProvenance p = TrainingProvenance.imported(
                String.format("sae_lens %s %s %s", version, name, dir.toAbsolutePath().normalize()));
        return Transcoder.of(config, new ActivationScaling(1, 1, true), p, device, values.toArray(new float[0][]));
    }

    /**
     * SAELens's {@code _fold_norm_topk}: with n_i = ||W_dec[i]||, pre * n and z / n in the forward pass become
     * W_enc[:, i] * n_i, b_enc[i] * n_i and W_dec[i] / n_i, which choose the same top k and decode the same output.
     */
    private static void foldDecoderNorms(float[] wEnc, float[] bEnc, float[] wDec, int dIn, int dSae, int dOut) {
        for (int i = 0; i < dSae; i++) {
            double sq = 0;
            for (int k = 0; k < dOut; k++) {
                sq += (double) wDec[i * dOut + k] * wDec[i * dOut + k];
            }
            float n = (float) Math.sqrt(sq);
            for (int j = 0; j < dIn; j++) {
                wEnc[j * dSae + i] *= n;
            }
            bEnc[i] *= n;
            // a zero row stays zero: SAELens gives its feature pre 0, as here, then decodes 0 / 0
            if (n > 0) {
                for (int k = 0; k < dOut; k++) {
                    wDec[i * dOut + k] /= n;
                }
            }
        }
    }
}
