package org.cellcircuits.transcoder;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.typesafe.config.Config;
import java.io.Serializable;
import java.util.Locale;
import java.util.Objects;
import org.cellcircuits.io.CanonicalConfig;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.model.HookNames;

/**
 * Everything that decides what one layer's transcoder (or SAE) becomes: its shape, the loss, the optimiser and its
 * schedules, dead-feature handling, the seed and the activation scaling. Two runs with equal configs, equal batches
 * in equal order and the same thread count end with the same weights. Each component's key under
 * {@code cellcircuits.train} is in parentheses; its JSON name (cfg.json, checkpoints) follows SAELens where SAELens
 * has one: {@code sae_lens/config.py} ({@code LanguageModelSAERunnerConfig}: lr, adam_beta1, adam_beta2,
 * lr_warm_up_steps, lr_decay_steps, lr_end, training_tokens, train_batch_size_tokens, feature_sampling_window, seed,
 * n_batches_for_norm_estimate, dtype, model_name, hook_name), {@code sae_lens/saes/standard_sae.py}
 * ({@code l1_coefficient}, {@code l1_warm_up_steps}), {@code sae_lens/saes/sae.py} ({@code d_in}, {@code d_sae},
 * {@code decoder_init_norm}) and {@code sae_lens/saes/transcoder.py} ({@code d_out}).
 *
 * @param kind                  ({@code kind}) transcoder (target = MLP output) or sae (target = MLP input); default
 *                              transcoder
 * @param modelName             the model the activations came from (provenance; SAELens {@code model_name}); not blank
 * @param layer                 block index L (>= 0): input hook {@code blocks.L.ln2.hook_normalized}, output hook
 *                              {@code blocks.L.hook_mlp_out} (the input hook again for an SAE)
 * @param dIn                   width of the MLP input (>= 1), from the data
 * @param dOut                  width of the target (>= 1); equals dIn for an SAE
 * @param dSae                  number of features (>= 1); {@code expansion-factor} x dIn, default 8 x (the paper)
 * @param l1Coefficient         ({@code l1-coefficient}) lambda of the sparsity penalty lambda sum_i z_i ||W_dec,i||,
 *                              >= 0; default 1.4e-4 (the paper's number, which was set for transcoder_circuits'
 *                              normalised loss; in this loss's units the same balance is ~1.4e-4 x d_in^1.5)
 * @param l1WarmUpSteps         ({@code l1-warm-up-steps}) lambda rises linearly from lambda/W to lambda over the first
 *                              W steps, >= 0; default 600 (5% of the default run, as Anthropic's April 2024 update)
 * @param lr                    ({@code lr}) Adam learning rate, > 0; default 3e-4 (SAELens's default)
 * @param adamBeta1             ({@code adam-beta1}) in [0, 1); default 0.9
 * @param adamBeta2             ({@code adam-beta2}) in [0, 1); default 0.999
 * @param adamEpsilon           ({@code adam-epsilon}) > 0; default 1e-8 (torch.optim.Adam's)
 * @param lrWarmUpSteps         ({@code lr-warm-up-steps}) lr rises linearly from lr/W to lr over the first W steps,
 *                              >= 0; default 1000
 * @param lrDecaySteps          ({@code lr-decay-steps}) lr falls from lr to lr-end over the last D steps, >= 0;
 *                              warm-up + decay must fit in the run; default 2400 (~20% of the default run)
 * @param lrDecay               ({@code lr-decay}) linear or cosine; default linear
 * @param lrEnd                 ({@code lr-end}) learning rate of the last step, in [0, lr]; default 0
 * @param trainingTokens        ({@code training-tokens}) tokens to train on, >= 1; steps = ceil(tokens / batch);
 *                              default 50,000,000
 * @param trainBatchSizeTokens  ({@code train-batch-size-tokens}) tokens per step, >= 1; default 4096
 * @param deadFeatureWindow     ({@code dead-feature-window-tokens}) a feature with no activation in this many of the
 *                              latest training tokens is dead, >= 1; default 4,096,000 (SAELens's 1000-step window
 *                              at 4096 tokens a step; SAELens counts steps, we count tokens so the window does not
 *                              change with the batch size)
 * @param resampleDeadFeatures  ({@code resample-dead-features}) re-initialise dead features toward high-loss inputs
 *                              (Anthropic, "Towards Monosemanticity"); default true
 * @param resampleIntervalSteps ({@code resample-interval-steps}) resample every this many steps, never within the
 *                              last interval of the run, >= 1 (SAELens {@code feature_sampling_window}); default 2500
 * @param decoderInitNorm       ({@code decoder-init-norm}) norm of each initial decoder row and encoder column, > 0;
 *                              default 0.1 (SAELens {@code decoder_init_norm}, Anthropic's April 2024 update)
 * @param seed                  ({@code seed}) seeds weight init and resampling; default 42
 * @param inputScale            ({@code input-scale}) constant s_in multiplying x during training, > 0, or null to
 *                              estimate it so that mean ||s_in x||^2 = d_in; default null
 * @param targetScale           ({@code target-scale}) the same for the target (mean ||s_out y||^2 = d_out); default
 *                              null. For an SAE it must equal inputScale (the target is the input).
 * @param scalingBatches        ({@code scaling-batches}) batches read to estimate the scales, >= 1 (SAELens
 *                              {@code n_batches_for_norm_estimate}); default 100
 * @param dtype                 master weight type; only "float32" (bf16 compute on GPU is a later option)
 * @param architecture          the activation function, its hyperparameters and the skip connection
 *                              ({@link TranscoderArchitecture}); default ReLU + L1 without skip (the paper)
 */
public record TranscoderConfig(
        TranscoderKind kind,
        String modelName,
        int layer,
        int dIn,
        int dOut,
        int dSae,
        double l1Coefficient,
        int l1WarmUpSteps,
        double lr,
        double adamBeta1,
        double adamBeta2,
        double adamEpsilon,
        int lrWarmUpSteps,
        int lrDecaySteps,
        LrDecay lrDecay,
        double lrEnd,
        long trainingTokens,
        int trainBatchSizeTokens,
        long deadFeatureWindow,
        boolean resampleDeadFeatures,
        int resampleIntervalSteps,
        double decoderInitNorm,
        long seed,
        Double inputScale,
        Double targetScale,
        int scalingBatches,
        String dtype,
        TranscoderArchitecture architecture) implements Serializable {

    private static final long serialVersionUID = 1L;
    /** The section of the keys that errors name. */
    static final String KEY = "cellcircuits.train.";

    public TranscoderConfig {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(lrDecay, "lrDecay");
        Objects.requireNonNull(architecture, "architecture");
        if (modelName == null || modelName.isBlank()) {
            throw new IllegalArgumentException("train model name is blank; need the model the activations came from");
        }
        ConfigChecks.atLeast(KEY + "layer", layer, 0);
        ConfigChecks.atLeast(KEY + "d_in", dIn, 1);
        ConfigChecks.atLeast(KEY + "d_out", dOut, 1);
        ConfigChecks.atLeast(KEY + "d_sae", dSae, 1);
        if (kind == TranscoderKind.SAE && dOut != dIn) {
            throw new IllegalArgumentException(String.format(
                    "train.kind is sae but d_out %d differs from d_in %d; an SAE reconstructs its input", dOut, dIn));
        }
        ConfigChecks.finiteAtLeast(KEY + "l1-coefficient", l1Coefficient, 0);
        ConfigChecks.atLeast(KEY + "l1-warm-up-steps", l1WarmUpSteps, 0);
        ConfigChecks.positiveFinite(KEY + "lr", lr);
        ConfigChecks.require(adamBeta1 >= 0 && adamBeta1 < 1, KEY + "adam-beta1", adamBeta1, "in [0, 1)");
        ConfigChecks.require(adamBeta2 >= 0 && adamBeta2 < 1, KEY + "adam-beta2", adamBeta2, "in [0, 1)");
        ConfigChecks.positiveFinite(KEY + "adam-epsilon", adamEpsilon);
        ConfigChecks.atLeast(KEY + "lr-warm-up-steps", lrWarmUpSteps, 0);
        ConfigChecks.atLeast(KEY + "lr-decay-steps", lrDecaySteps, 0);
        ConfigChecks.require(lrEnd >= 0 && lrEnd <= lr, KEY + "lr-end", lrEnd, "in [0, lr = " + lr + "]");
        ConfigChecks.atLeast(KEY + "training-tokens", trainingTokens, 1);
        ConfigChecks.atLeast(KEY + "train-batch-size-tokens", trainBatchSizeTokens, 1);
        long steps = (trainingTokens + trainBatchSizeTokens - 1) / trainBatchSizeTokens;
        if (steps > Integer.MAX_VALUE) {
            throw ConfigChecks.invalid(KEY + "training-tokens", trainingTokens,
                    "at most 2^31-1 steps of train-batch-size-tokens");
        }
        if ((long) lrWarmUpSteps + lrDecaySteps > steps) {
            throw new IllegalArgumentException(String.format(
                    "train.lr-warm-up-steps (%d) + train.lr-decay-steps (%d) exceed the run's %d steps "
                            + "(training-tokens %d / train-batch-size-tokens %d)",
                    lrWarmUpSteps, lrDecaySteps, steps, trainingTokens, trainBatchSizeTokens));
        }
        ConfigChecks.atLeast(KEY + "dead-feature-window-tokens", deadFeatureWindow, 1);
        ConfigChecks.atLeast(KEY + "resample-interval-steps", resampleIntervalSteps, 1);
        ConfigChecks.positiveFinite(KEY + "decoder-init-norm", decoderInitNorm);
        positiveOrNull("input-scale", inputScale);
        positiveOrNull("target-scale", targetScale);
        if (kind == TranscoderKind.SAE && !Objects.equals(inputScale, targetScale)) {
            throw new IllegalArgumentException(String.format(
                    "train.kind is sae but input-scale %s differs from target-scale %s; the target is the input",
                    inputScale, targetScale));
        }
        ConfigChecks.atLeast(KEY + "scaling-batches", scalingBatches, 1);
        ConfigChecks.require("float32".equals(dtype), KEY + "dtype", "'" + dtype + "'",
                "float32 (master weights are float32)");
        architecture.checkAgainst(dSae, kind == TranscoderKind.SAE);
    }

    /** The activation function. */
    public Activation activation() {
        return architecture.activation();
    }

    /** Whether the transcoder has a learned skip path x W_skip^T from input to output. */
    public boolean skipConnection() {
        return architecture.skipConnection();
    }

    /**
     * The base value of the sparsity coefficient the warm-up schedule ramps: lambda of the L1 penalty for relu, the
     * L0 coefficient for jumprelu, 0 for topk and batchtopk (k sets their sparsity).
     */
    public double sparsityCoefficient() {
        return switch (architecture.activation()) {
            case RELU -> l1Coefficient;
            case JUMPRELU -> architecture.l0Coefficient();
            case TOPK, BATCHTOPK -> 0.0;
        };
    }

    private static void positiveOrNull(String key, Double value) {
        ConfigChecks.require(value == null || value > 0 && !value.isInfinite(), KEY + key, value,
                "> 0 and finite, or null to estimate it from the data");
    }

    /** Optimiser steps of the whole run: ceil(training-tokens / train-batch-size-tokens). */
    public int totalSteps() {
        return (int) ((trainingTokens + trainBatchSizeTokens - 1) / trainBatchSizeTokens);
    }

    /** d_sae / d_in. */
    public double expansionFactor() {
        return (double) dSae / dIn;
    }

    /** Where x is read: the MLP input of block L. */
    public String hookNameIn() {
        return HookNames.mlpIn(layer);
    }

    /** Where the target is read: the MLP output (transcoder) or the MLP input again (SAE). */
    public String hookNameOut() {
        return kind == TranscoderKind.TRANSCODER ? HookNames.mlpOut(layer) : HookNames.mlpIn(layer);
    }

    /** Both scales given in the config, so no estimate is needed. */
    public boolean hasFixedScaling() {
        return inputScale != null && targetScale != null;
    }

    // ---- JSON (cfg.json "training" object, checkpoints) -------------------------------------------------------

    /** The config as JSON with SAELens's names where SAELens has them. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("kind", kind.configName());
        o.addProperty("model_name", modelName);
        o.addProperty("hook_layer", layer);
        o.addProperty("hook_name", hookNameIn());
        o.addProperty("hook_name_out", hookNameOut());
        o.addProperty("d_in", dIn);
        o.addProperty("d_out", dOut);
        o.addProperty("d_sae", dSae);
        o.addProperty("l1_coefficient", l1Coefficient);
        o.addProperty("l1_warm_up_steps", l1WarmUpSteps);
        o.addProperty("lr", lr);
        o.addProperty("adam_beta1", adamBeta1);
        o.addProperty("adam_beta2", adamBeta2);
        o.addProperty("adam_epsilon", adamEpsilon);
        o.addProperty("lr_warm_up_steps", lrWarmUpSteps);
        o.addProperty("lr_decay_steps", lrDecaySteps);
        o.addProperty("lr_decay", lrDecay.configName());
        o.addProperty("lr_end", lrEnd);
        o.addProperty("training_tokens", trainingTokens);
        o.addProperty("train_batch_size_tokens", trainBatchSizeTokens);
        o.addProperty("dead_feature_window_tokens", deadFeatureWindow);
        o.addProperty("resample_dead_features", resampleDeadFeatures);
        o.addProperty("feature_sampling_window", resampleIntervalSteps);
        o.addProperty("decoder_init_norm", decoderInitNorm);
        o.addProperty("seed", seed);
        o.add("input_scale", inputScale == null ? JsonNull.INSTANCE : new JsonPrimitive(inputScale));
        o.add("target_scale", targetScale == null ? JsonNull.INSTANCE : new JsonPrimitive(targetScale));
        o.addProperty("n_batches_for_norm_estimate", scalingBatches);
        o.addProperty("dtype", dtype);
        architecture.writeJson(o);
        return o;
    }

    /** Reads {@link #toJson()}'s output; {@code where} names the file in errors. */
    public static TranscoderConfig fromJson(JsonObject o, String where) {
        JsonFields f = new JsonFields(o, where);
        return new TranscoderConfig(
                TranscoderKind.parse(f.string("kind")),
                f.string("model_name"),
                f.integer("hook_layer"),
                f.integer("d_in"),
                f.integer("d_out"),
                f.integer("d_sae"),
                f.number("l1_coefficient"),
                f.integer("l1_warm_up_steps"),
                f.number("lr"),
                f.number("adam_beta1"),
                f.number("adam_beta2"),
                f.number("adam_epsilon"),
                f.integer("lr_warm_up_steps"),
                f.integer("lr_decay_steps"),
                LrDecay.parse(f.string("lr_decay")),
                f.number("lr_end"),
                f.longValue("training_tokens"),
                f.integer("train_batch_size_tokens"),
                f.longValue("dead_feature_window_tokens"),
                f.bool("resample_dead_features"),
                f.integer("feature_sampling_window"),
                f.number("decoder_init_norm"),
                f.longValue("seed"),
                f.nullableNumber("input_scale"),
                f.nullableNumber("target_scale"),
                f.integer("n_batches_for_norm_estimate"),
                f.string("dtype"),
                TranscoderArchitecture.readJson(f, o));
    }

    /** SHA-256 of the canonical JSON: equal hashes mean equal training. */
    public String hash() {
        return CanonicalConfig.sha256Hex(CanonicalConfig.canonicalize(toJson()));
    }

    // ---- from the run config ---------------------------------------------------------------------------------

    /**
     * Reads the {@code cellcircuits.train} section (keys as in {@code conf/reference.conf}); the shape of the data
     * and the model's name come from the harvested activations, not from the config.
     */
    public static TranscoderConfig fromConfig(Config train, String modelName, int layer, int dIn, int dOut) {
        int expansion = train.getInt("expansion-factor");
        if (expansion < 1) {
            throw ConfigChecks.invalid(KEY + "expansion-factor", expansion, ">= 1");
        }
        return builder()
                .kind(TranscoderKind.parse(train.getString("kind")))
                .modelName(modelName)
                .layer(layer)
                .dIn(dIn)
                .dOut(dOut)
                .dSae(Math.multiplyExact(expansion, dIn))
                .l1Coefficient(train.getDouble("l1-coefficient"))
                .l1WarmUpSteps(train.getInt("l1-warm-up-steps"))
                .lr(train.getDouble("lr"))
                .adamBeta1(train.getDouble("adam-beta1"))
                .adamBeta2(train.getDouble("adam-beta2"))
                .adamEpsilon(train.getDouble("adam-epsilon"))
                .lrWarmUpSteps(train.getInt("lr-warm-up-steps"))
                .lrDecaySteps(train.getInt("lr-decay-steps"))
                .lrDecay(LrDecay.parse(train.getString("lr-decay")))
                .lrEnd(train.getDouble("lr-end"))
                .trainingTokens(train.getLong("training-tokens"))
                .trainBatchSizeTokens(train.getInt("train-batch-size-tokens"))
                .deadFeatureWindow(train.getLong("dead-feature-window-tokens"))
                .resampleDeadFeatures(train.getBoolean("resample-dead-features"))
                .resampleIntervalSteps(train.getInt("resample-interval-steps"))
                .decoderInitNorm(train.getDouble("decoder-init-norm"))
                .seed(train.getLong("seed"))
                .inputScale(train.getIsNull("input-scale") ? null : train.getDouble("input-scale"))
                .targetScale(train.getIsNull("target-scale") ? null : train.getDouble("target-scale"))
                .scalingBatches(train.getInt("scaling-batches"))
                .architecture(TranscoderArchitecture.fromConfig(train))
                .build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().kind(kind).modelName(modelName).layer(layer).dIn(dIn).dOut(dOut).dSae(dSae)
                .l1Coefficient(l1Coefficient).l1WarmUpSteps(l1WarmUpSteps).lr(lr).adamBeta1(adamBeta1)
                .adamBeta2(adamBeta2).adamEpsilon(adamEpsilon).lrWarmUpSteps(lrWarmUpSteps)
                .lrDecaySteps(lrDecaySteps).lrDecay(lrDecay).lrEnd(lrEnd).trainingTokens(trainingTokens)
                .trainBatchSizeTokens(trainBatchSizeTokens).deadFeatureWindow(deadFeatureWindow)
                .resampleDeadFeatures(resampleDeadFeatures).resampleIntervalSteps(resampleIntervalSteps)
                .decoderInitNorm(decoderInitNorm).seed(seed).inputScale(inputScale).targetScale(targetScale)
                .scalingBatches(scalingBatches).dtype(dtype).architecture(architecture);
    }

    /**
     * Settings one at a time from the defaults of {@code conf/reference.conf}. {@code dSae} left at 0 means
     * {@code expansionFactor x dIn}; {@code dOut} left at 0 means dIn.
     */
    public static final class Builder {
        private TranscoderKind kind = TranscoderKind.TRANSCODER;
        private String modelName;
        private int layer;
        private int dIn;
        private int dOut;
        private int dSae;
        private int expansionFactor = 8;
        private double l1Coefficient = 1.4e-4;
        private int l1WarmUpSteps = 600;
        private double lr = 3e-4;
        private double adamBeta1 = 0.9;
        private double adamBeta2 = 0.999;
        private double adamEpsilon = 1e-8;
        private int lrWarmUpSteps = 1000;
        private int lrDecaySteps = 2400;
        private LrDecay lrDecay = LrDecay.LINEAR;
        private double lrEnd = 0.0;
        private long trainingTokens = 50_000_000L;
        private int trainBatchSizeTokens = 4096;
        private long deadFeatureWindow = 4_096_000L;
        private boolean resampleDeadFeatures = true;
        private int resampleIntervalSteps = 2500;
        private double decoderInitNorm = 0.1;
        private long seed = 42;
        private Double inputScale;
        private Double targetScale;
        private int scalingBatches = 100;
        private String dtype = "float32";
        private TranscoderArchitecture architecture = TranscoderArchitecture.DEFAULT;

        public Builder kind(TranscoderKind v) { kind = v; return this; }
        public Builder modelName(String v) { modelName = v; return this; }
        public Builder layer(int v) { layer = v; return this; }
        public Builder dIn(int v) { dIn = v; return this; }
        public Builder dOut(int v) { dOut = v; return this; }
        public Builder dSae(int v) { dSae = v; return this; }
        public Builder expansionFactor(int v) { expansionFactor = v; dSae = 0; return this; }
        public Builder l1Coefficient(double v) { l1Coefficient = v; return this; }
        public Builder l1WarmUpSteps(int v) { l1WarmUpSteps = v; return this; }
        public Builder lr(double v) { lr = v; return this; }
        public Builder adamBeta1(double v) { adamBeta1 = v; return this; }
        public Builder adamBeta2(double v) { adamBeta2 = v; return this; }
        public Builder adamEpsilon(double v) { adamEpsilon = v; return this; }
        public Builder lrWarmUpSteps(int v) { lrWarmUpSteps = v; return this; }
        public Builder lrDecaySteps(int v) { lrDecaySteps = v; return this; }
        public Builder lrDecay(LrDecay v) { lrDecay = v; return this; }
        public Builder lrEnd(double v) { lrEnd = v; return this; }
        public Builder trainingTokens(long v) { trainingTokens = v; return this; }
        public Builder trainBatchSizeTokens(int v) { trainBatchSizeTokens = v; return this; }
        public Builder deadFeatureWindow(long v) { deadFeatureWindow = v; return this; }
        public Builder resampleDeadFeatures(boolean v) { resampleDeadFeatures = v; return this; }
        public Builder resampleIntervalSteps(int v) { resampleIntervalSteps = v; return this; }
        public Builder decoderInitNorm(double v) { decoderInitNorm = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder inputScale(Double v) { inputScale = v; return this; }
        public Builder targetScale(Double v) { targetScale = v; return this; }
        public Builder scalingBatches(int v) { scalingBatches = v; return this; }
        public Builder dtype(String v) { dtype = v; return this; }
        public Builder architecture(TranscoderArchitecture v) { architecture = v; return this; }
        public Builder activation(Activation v) { architecture = architecture.withActivation(v); return this; }
        public Builder k(int v) { architecture = architecture.withK(v); return this; }
        public Builder l0Coefficient(double v) { architecture = architecture.withL0Coefficient(v); return this; }
        public Builder skipConnection(boolean v) { architecture = architecture.withSkipConnection(v); return this; }

        public TranscoderConfig build() {
            int out = dOut == 0 ? dIn : dOut;
            int features = dSae == 0 ? Math.multiplyExact(expansionFactor, Math.max(dIn, 0)) : dSae;
            return new TranscoderConfig(kind, modelName, layer, dIn, out, features, l1Coefficient, l1WarmUpSteps, lr,
                    adamBeta1, adamBeta2, adamEpsilon, lrWarmUpSteps, lrDecaySteps, lrDecay, lrEnd, trainingTokens,
                    trainBatchSizeTokens, deadFeatureWindow, resampleDeadFeatures, resampleIntervalSteps,
                    decoderInitNorm, seed, inputScale, targetScale, scalingBatches, dtype, architecture);
        }
    }

    /** Typed reads from a JSON object whose errors name the file and the key. */
    static final class JsonFields {
        private final JsonObject o;
        private final String where;

        JsonFields(JsonObject o, String where) {
            this.o = o;
            this.where = where;
        }

        JsonElement get(String key) {
            JsonElement e = o.get(key);
            if (e == null) {
                throw new IllegalArgumentException(String.format("%s lacks key %s", where, key));
            }
            return e;
        }

        private JsonPrimitive primitive(String key, String need) {
            JsonElement e = get(key);
            if (!e.isJsonPrimitive()) {
                throw new IllegalArgumentException(String.format("%s: key %s is %s; need %s", where, key, e, need));
            }
            return e.getAsJsonPrimitive();
        }

        String string(String key) {
            JsonPrimitive p = primitive(key, "a string");
            if (!p.isString()) {
                throw new IllegalArgumentException(String.format("%s: key %s is %s; need a string", where, key, p));
            }
            return p.getAsString();
        }

        double number(String key) {
            JsonPrimitive p = primitive(key, "a number");
            if (!p.isNumber()) {
                throw new IllegalArgumentException(String.format("%s: key %s is %s; need a number", where, key, p));
            }
            return p.getAsDouble();
        }

        Double nullableNumber(String key) {
            return get(key).isJsonNull() ? null : number(key);
        }

        long longValue(String key) {
            JsonPrimitive p = primitive(key, "an integer");
            try {
                return p.getAsBigDecimal().longValueExact();
            } catch (ArithmeticException | NumberFormatException e) {
                throw new IllegalArgumentException(String.format("%s: key %s is %s; need an integer", where, key, p));
            }
        }

        int integer(String key) {
            long v = longValue(key);
            if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(String.format("%s: key %s is %d; out of int range", where, key, v));
            }
            return (int) v;
        }

        boolean bool(String key) {
            JsonPrimitive p = primitive(key, "true or false");
            if (!p.isBoolean()) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "%s: key %s is %s; need true or false",
                        where, key, p));
            }
            return p.getAsBoolean();
        }

        JsonObject object(String key) {
            JsonElement e = get(key);
            if (!e.isJsonObject()) {
                throw new IllegalArgumentException(String.format("%s: key %s is %s; need an object", where, key, e));
            }
            return e.getAsJsonObject();
        }
    }
}
