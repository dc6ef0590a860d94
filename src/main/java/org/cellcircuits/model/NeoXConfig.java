package org.cellcircuits.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.cellcircuits.io.ConfigChecks;

/**
 * The GPT-NeoX hyperparameters of a HuggingFace {@code config.json} that the forward pass depends on.
 *
 * @param hiddenSize d_model
 * @param numHeads attention heads; must divide hiddenSize
 * @param numLayers transformer blocks
 * @param intermediateSize d_mlp
 * @param rotaryPct share of each head's dims that get rotary embeddings, in (0, 1]
 * @param rotaryBase rotary frequency base (HF {@code rotary_emb_base}, later {@code rope_theta})
 * @param parallelResidual true: x + attn(ln1 x) + mlp(ln2 x); false: sequential
 * @param layerNormEps LayerNorm epsilon (> 0)
 * @param vocabSize rows of the embedding
 * @param maxPositions longest sequence the rotary table is built for
 * @param tiedEmbeddings unembedding reuses embed_in.weight
 * @param attentionBias QKV and output projections have biases (HF {@code attention_bias}, default true)
 * @param eosTokenId end-of-sequence id, or -1 if the config has none
 */
public record NeoXConfig(
        int hiddenSize,
        int numHeads,
        int numLayers,
        int intermediateSize,
        double rotaryPct,
        double rotaryBase,
        boolean parallelResidual,
        double layerNormEps,
        int vocabSize,
        int maxPositions,
        boolean tiedEmbeddings,
        boolean attentionBias,
        int eosTokenId) {

    public NeoXConfig {
        ConfigChecks.atLeast("hidden_size", hiddenSize, 1);
        ConfigChecks.atLeast("num_attention_heads", numHeads, 1);
        ConfigChecks.atLeast("num_hidden_layers", numLayers, 1);
        ConfigChecks.atLeast("intermediate_size", intermediateSize, 1);
        ConfigChecks.atLeast("vocab_size", vocabSize, 1);
        ConfigChecks.atLeast("max_position_embeddings", maxPositions, 1);
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException(String.format(
                    "hidden_size %d is not divisible by num_attention_heads %d", hiddenSize, numHeads));
        }
        ConfigChecks.require(rotaryPct > 0 && rotaryPct <= 1, "rotary_pct", rotaryPct, "in (0, 1]");
        int rot = (int) (hiddenSize / numHeads * rotaryPct);
        if (rot == 0 || rot % 2 != 0) {
            throw new IllegalArgumentException(String.format(
                    "rotary_pct %s of head size %d gives %d rotary dims; need an even number > 0",
                    rotaryPct, hiddenSize / numHeads, rot));
        }
        ConfigChecks.require(rotaryBase > 0, "rotary_emb_base", rotaryBase, "> 0");
        ConfigChecks.require(layerNormEps > 0, "layer_norm_eps", layerNormEps, "> 0");
    }

    /** Dims per attention head. */
    public int headSize() {
        return hiddenSize / numHeads;
    }

    /** Rotary dims per head: int(head_size * rotary_pct), as HF truncates it. */
    public int rotaryDims() {
        return (int) (headSize() * rotaryPct);
    }

    /** This config as HuggingFace {@code config.json} content, so a model we train loads in transformers too. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        com.google.gson.JsonArray arch = new com.google.gson.JsonArray();
        arch.add("GPTNeoXForCausalLM");
        o.add("architectures", arch);
        o.addProperty("model_type", "gpt_neox");
        o.addProperty("hidden_size", hiddenSize);
        o.addProperty("num_attention_heads", numHeads);
        o.addProperty("num_hidden_layers", numLayers);
        o.addProperty("intermediate_size", intermediateSize);
        o.addProperty("rotary_pct", rotaryPct);
        o.addProperty("rotary_emb_base", rotaryBase);
        o.addProperty("use_parallel_residual", parallelResidual);
        o.addProperty("layer_norm_eps", layerNormEps);
        o.addProperty("hidden_act", "gelu");
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("max_position_embeddings", maxPositions);
        o.addProperty("tie_word_embeddings", tiedEmbeddings);
        o.addProperty("attention_bias", attentionBias);
        if (eosTokenId >= 0) {
            o.addProperty("eos_token_id", eosTokenId);
            o.addProperty("bos_token_id", eosTokenId);
        }
        o.addProperty("torch_dtype", "float32");
        return o;
    }

    /** Reads {@code config.json}; every error names the file and the key. */
    public static NeoXConfig read(Path configJson) {
        JsonObject o;
        try {
            o = JsonParser.parseString(Files.readString(configJson)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model config " + configJson, e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(configJson + ": not a JSON object: " + e.getMessage(), e);
        }
        Keys k = new Keys(configJson, o);
        String modelType = k.string("model_type", "gpt_neox");
        if (!modelType.equals("gpt_neox")) {
            throw new IllegalArgumentException(String.format(
                    "%s: model_type is %s; only gpt_neox checkpoints are supported", configJson, modelType));
        }
        String act = k.string("hidden_act", "gelu");
        if (!act.equals("gelu")) {
            throw new IllegalArgumentException(String.format(
                    "%s: hidden_act is %s; only exact erf \"gelu\" (as in Pythia and C2S) is supported", configJson, act));
        }
        if (o.has("rope_scaling") && !o.get("rope_scaling").isJsonNull()) {
            throw new IllegalArgumentException(configJson + ": rope_scaling is set; scaled rotary embeddings are not supported");
        }
        try {
            return new NeoXConfig(
                    k.integer("hidden_size"),
                    k.integer("num_attention_heads"),
                    k.integer("num_hidden_layers"),
                    k.integer("intermediate_size"),
                    k.number("rotary_pct", "partial_rotary_factor", 0.25),
                    k.number("rotary_emb_base", "rope_theta", 10000),
                    k.bool("use_parallel_residual", true),
                    k.number("layer_norm_eps", null, 1e-5),
                    k.integer("vocab_size"),
                    k.integerOr("max_position_embeddings", 2048),
                    k.bool("tie_word_embeddings", false),
                    k.bool("attention_bias", true),
                    k.integerOr("eos_token_id", -1));
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage();
            throw msg.startsWith(configJson.toString()) ? e : new IllegalArgumentException(configJson + ": " + msg, e);
        }
    }

    private record Keys(Path file, JsonObject o) {
        private JsonElement get(String key) {
            JsonElement e = o.get(key);
            return e == null || e.isJsonNull() ? null : e;
        }

        private RuntimeException bad(String key, String expected) {
            return new IllegalArgumentException(String.format("%s: key %s is %s; expected %s", file, key, o.get(key), expected));
        }

        int integer(String key) {
            if (get(key) == null) {
                throw new IllegalArgumentException(String.format("%s: required key %s is missing", file, key));
            }
            return integerOr(key, 0);
        }

        int integerOr(String key, int fallback) {
            JsonElement e = get(key);
            if (e == null) {
                return fallback;
            }
            try {
                double d = e.getAsDouble();
                if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                    throw bad(key, "an integer");
                }
                return (int) d;
            } catch (UnsupportedOperationException | NumberFormatException | IllegalStateException ex) {
                throw bad(key, "an integer");
            }
        }

        double number(String key, String alias, double fallback) {
            JsonElement e = get(key);
            if (e == null && alias != null) {
                key = alias;
                e = get(alias);
            }
            if (e == null) {
                return fallback;
            }
            try {
                return e.getAsDouble();
            } catch (UnsupportedOperationException | NumberFormatException | IllegalStateException ex) {
                throw bad(key, "a number");
            }
        }

        boolean bool(String key, boolean fallback) {
            JsonElement e = get(key);
            if (e == null) {
                return fallback;
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                throw bad(key, "true or false");
            }
            return e.getAsBoolean();
        }

        String string(String key, String fallback) {
            JsonElement e = get(key);
            if (e == null) {
                return fallback;
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                throw bad(key, "a string");
            }
            return e.getAsString();
        }
    }
}
