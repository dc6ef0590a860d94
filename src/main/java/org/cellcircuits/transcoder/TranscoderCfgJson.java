package org.cellcircuits.transcoder;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import org.cellcircuits.io.SoftwareVersions;

/**
 * The cfg.json beside weights.safetensors. One object serves three readers:
 *
 * <ul>
 *   <li>SAELens ({@code sae_lens/saes/sae.py} {@code SAEConfig.to_dict} / {@code save_model}, v6 layout):
 *       {@code architecture} (see {@link TranscoderArchitecture#saeLensArchitecture}: "transcoder",
 *       "skip_transcoder", "jumprelu_transcoder", ... or for an SAE "standard", "topk", "jumprelu"; {@code k} beside
 *       a TopK one), {@code d_in}, {@code d_sae}, {@code d_out}
 *       ({@code sae_lens/saes/transcoder.py}), {@code dtype}, {@code device}, {@code apply_b_dec_to_input} (false:
 *       SAELens refuses it for transcoders and we never centre the input), {@code normalize_activations} ("none":
 *       the scaling is folded into the weights), {@code reshape_activations}, and {@code metadata} with
 *       {@code model_name}, {@code hook_name}, {@code hook_name_out}, {@code hook_layer}, {@code hook_head_index}.
 *       SAELens ignores keys it does not know. Its disk loader expects the weights file to be called
 *       {@code sae_weights.safetensors}; ours is {@code weights.safetensors} (DESIGN.md), same tensors.
 *       {@link SaeLensTranscoder} reads SAELens's own folders, {@link CircuitTracerTranscoder} circuit-tracer's
 *       files.</li>
 *   <li>circuit-tracer ({@code circuit_tracer/utils/hf_utils.py} {@code load_transcoders}, per-layer part of its
 *       transcoder-set config): {@code feature_input_hook} / {@code feature_output_hook} (block-relative hook names),
 *       {@code activation} ("relu", "topk" or "jump_relu"), {@code layer}.</li>
 *   <li>this project: {@code training} (the full {@link TranscoderConfig#toJson()}), {@code scaling_factors},
 *       {@code training_steps}, {@code tokens_seen} and {@code provenance} (config hash, seed, versions).</li>
 * </ul>
 */
public final class TranscoderCfgJson {

    private TranscoderCfgJson() {}

    /** What {@link #read} recovers. */
    public record Parsed(TranscoderConfig config, ActivationScaling scaling, TrainingProvenance provenance) {}

    public static JsonObject write(TranscoderConfig c, ActivationScaling scaling, TrainingProvenance p) {
        JsonObject o = new JsonObject();
        o.addProperty("architecture", c.architecture().saeLensArchitecture(c.kind()));
        if (c.activation() == Activation.TOPK) {
            o.addProperty("k", c.architecture().k());
        }
        o.addProperty("d_in", c.dIn());
        o.addProperty("d_out", c.dOut());
        o.addProperty("d_sae", c.dSae());
        o.addProperty("dtype", c.dtype());
        o.addProperty("device", "cpu");
        o.addProperty("apply_b_dec_to_input", false);
        o.addProperty("normalize_activations", scaling.folded() ? "none" : "expected_average_only_in");
        o.addProperty("reshape_activations", "none");
        JsonObject metadata = new JsonObject();
        metadata.addProperty("model_name", c.modelName());
        metadata.addProperty("hook_name", c.hookNameIn());
        metadata.addProperty("hook_name_out", c.hookNameOut());
        metadata.addProperty("hook_layer", c.layer());
        metadata.add("hook_head_index", JsonNull.INSTANCE);
        o.add("metadata", metadata);

        o.addProperty("feature_input_hook", blockRelative(c.hookNameIn(), c.layer()));
        o.addProperty("feature_output_hook", blockRelative(c.hookNameOut(), c.layer()));
        o.addProperty("activation", c.architecture().circuitTracerActivation());
        o.addProperty("layer", c.layer());

        JsonObject factors = new JsonObject();
        factors.addProperty("input", scaling.input());
        factors.addProperty("target", scaling.target());
        factors.addProperty("folded_into_weights", scaling.folded());
        o.add("scaling_factors", factors);
        o.add("training", c.toJson());
        o.addProperty("training_steps", p.steps());
        o.addProperty("tokens_seen", p.tokensSeen());
        JsonObject prov = new JsonObject();
        prov.addProperty("config_hash", p.configHash());
        prov.addProperty("seed", c.seed());
        prov.addProperty("cellcircuits", p.versions().cellcircuits());
        prov.addProperty("djl", p.versions().djl());
        prov.addProperty("spark", p.versions().spark());
        prov.addProperty("java", p.versions().java());
        o.add("provenance", prov);
        return o;
    }

    /** Parses {@link #write}'s output; {@code where} names the file in errors. Checks the copies agree. */
    public static Parsed read(JsonObject o, String where) {
        TranscoderConfig.JsonFields top = new TranscoderConfig.JsonFields(o, where);
        TranscoderConfig c = TranscoderConfig.fromJson(top.object("training"), where + " (training)");
        String[] dims = {"d_in", "d_out", "d_sae"};
        int[] expected = {c.dIn(), c.dOut(), c.dSae()};
        for (int i = 0; i < dims.length; i++) {
            int v = top.integer(dims[i]);
            if (v != expected[i]) {
                throw new IllegalArgumentException(String.format(
                        "%s: %s is %d but training.%s is %d", where, dims[i], v, dims[i], expected[i]));
            }
        }
        String architecture = top.string("architecture");
        String expectedArchitecture = c.architecture().saeLensArchitecture(c.kind());
        if (!architecture.equals(expectedArchitecture)) {
            throw new IllegalArgumentException(String.format(
                    "%s: architecture is %s but training (kind %s, activation %s, skip connection %s) needs %s", where,
                    architecture, c.kind().configName(), c.activation().configName(), c.skipConnection(),
                    expectedArchitecture));
        }
        TranscoderConfig.JsonFields f = new TranscoderConfig.JsonFields(top.object("scaling_factors"),
                where + " (scaling_factors)");
        ActivationScaling scaling = new ActivationScaling(f.number("input"), f.number("target"),
                f.bool("folded_into_weights"));
        TranscoderConfig.JsonFields prov = new TranscoderConfig.JsonFields(top.object("provenance"),
                where + " (provenance)");
        SoftwareVersions versions = new SoftwareVersions(prov.string("cellcircuits"), prov.string("spark"),
                prov.string("djl"), prov.string("java"));
        TrainingProvenance provenance = new TrainingProvenance(top.longValue("training_steps"),
                top.longValue("tokens_seen"), prov.string("config_hash"), versions);
        return new Parsed(c, scaling, provenance);
    }

    /** A cfg.json file's top-level object; errors name the file. */
    static JsonObject readObject(java.nio.file.Path cfgFile) {
        try {
            return com.google.gson.JsonParser.parseString(
                    java.nio.file.Files.readString(cfgFile, java.nio.charset.StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + cfgFile, e);
        } catch (com.google.gson.JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(cfgFile + " is not a JSON object: " + e.getMessage(), e);
        }
    }

    private static String blockRelative(String hookName, int layer) {
        String prefix = "blocks." + layer + ".";
        return hookName.startsWith(prefix) ? hookName.substring(prefix.length()) : hookName;
    }
}
