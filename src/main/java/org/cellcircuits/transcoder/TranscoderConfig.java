package org.cellcircuits.transcoder;

import static org.cellcircuits.transcoder.Hyperparameter.BOOLEAN;
import static org.cellcircuits.transcoder.Hyperparameter.DOUBLE;
import static org.cellcircuits.transcoder.Hyperparameter.INT;
import static org.cellcircuits.transcoder.Hyperparameter.LONG;
import static org.cellcircuits.transcoder.Hyperparameter.NULLABLE_DOUBLE;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.cellcircuits.io.CanonicalConfig;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.io.ReferenceConfig;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.transcoder.Hyperparameter.Check;

/**
 * Everything that decides what one layer's transcoder (or SAE) becomes: its shape, the loss, the optimiser and its
 * schedules, dead-feature handling, the seed and the activation scaling. Two runs with equal configs, equal batches
 * in equal order and the same thread count end with the same weights.
 *
 * <p>Each value read from {@code cellcircuits.train} is declared once below as a {@link Hyperparameter}: its key, its
 * JSON name (cfg.json, checkpoints), what it means with its range, and its validator; the activation's own are in
 * {@link TranscoderArchitecture}. Their defaults are in {@code conf/reference.conf} only. JSON names follow SAELens
 * where SAELens has one: {@code sae_lens/config.py} ({@code LanguageModelSAERunnerConfig}: lr, adam_beta1,
 * adam_beta2, lr_warm_up_steps, lr_decay_steps, lr_end, training_tokens, train_batch_size_tokens,
 * feature_sampling_window, seed, n_batches_for_norm_estimate, dtype, model_name, hook_name),
 * {@code sae_lens/saes/standard_sae.py} ({@code l1_coefficient}, {@code l1_warm_up_steps}), {@code sae_lens/saes/sae.py}
 * ({@code d_in}, {@code d_sae}, {@code decoder_init_norm}) and {@code sae_lens/saes/transcoder.py} ({@code d_out}).
 *
 * @param modelName    the model the activations came from (provenance; SAELens {@code model_name}); not blank
 * @param layer        block index L (>= 0): input hook {@code blocks.L.ln2.hook_normalized}, output hook
 *                     {@code blocks.L.hook_mlp_out} (the input hook again for an SAE)
 * @param dIn          width of the MLP input (>= 1), from the data
 * @param dOut         width of the target (>= 1); equals dIn for an SAE
 * @param dSae         number of features (>= 1); {@link #EXPANSION_FACTOR} x dIn
 * @param dtype        master weight type; only "float32" (bf16 compute on GPU is a later option)
 * @param architecture the activation function, its hyperparameters and the skip connection
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
    static final String KEY = Hyperparameter.SECTION;

    static final Hyperparameter<TranscoderConfig, TranscoderKind> KIND = new Hyperparameter<>("kind", "kind",
            "what the dictionary reconstructs: transcoder (the MLP output) or sae (the MLP input)",
            Hyperparameter.oneOf(TranscoderKind.values(), TranscoderKind::configName), Check.none(),
            TranscoderConfig::kind);
    /** Not saved: the saved d_sae records it. */
    static final Hyperparameter<TranscoderConfig, Integer> EXPANSION_FACTOR = new Hyperparameter<>(
            "expansion-factor", null, "features per input dimension, d_sae = expansion-factor x d_in (>= 1)", INT,
            Check.atLeast(1), null);
    static final Hyperparameter<TranscoderConfig, Double> L1_COEFFICIENT = new Hyperparameter<>("l1-coefficient",
            "l1_coefficient", "lambda of the sparsity penalty lambda sum_i z_i ||W_dec,i|| (>= 0)", DOUBLE,
            Check.finiteAtLeast(0), TranscoderConfig::l1Coefficient);
    static final Hyperparameter<TranscoderConfig, Integer> L1_WARM_UP_STEPS = new Hyperparameter<>("l1-warm-up-steps",
            "l1_warm_up_steps", "lambda rises linearly from lambda/W to lambda over the first W steps (>= 0)", INT,
            Check.atLeast(0), TranscoderConfig::l1WarmUpSteps);
    static final Hyperparameter<TranscoderConfig, Double> LR = new Hyperparameter<>("lr", "lr",
            "Adam learning rate (> 0)", DOUBLE, Check.positiveFinite(), TranscoderConfig::lr);
    static final Hyperparameter<TranscoderConfig, Double> ADAM_BETA1 = new Hyperparameter<>("adam-beta1",
            "adam_beta1", "Adam beta1, in [0, 1)", DOUBLE, Check.in(b -> b >= 0 && b < 1, "in [0, 1)"),
            TranscoderConfig::adamBeta1);
    static final Hyperparameter<TranscoderConfig, Double> ADAM_BETA2 = new Hyperparameter<>("adam-beta2",
            "adam_beta2", "Adam beta2, in [0, 1)", DOUBLE, Check.in(b -> b >= 0 && b < 1, "in [0, 1)"),
            TranscoderConfig::adamBeta2);
    static final Hyperparameter<TranscoderConfig, Double> ADAM_EPSILON = new Hyperparameter<>("adam-epsilon",
            "adam_epsilon", "Adam epsilon (> 0)", DOUBLE, Check.positiveFinite(), TranscoderConfig::adamEpsilon);
    static final Hyperparameter<TranscoderConfig, Integer> LR_WARM_UP_STEPS = new Hyperparameter<>("lr-warm-up-steps",
            "lr_warm_up_steps", "lr rises linearly from lr/W to lr over the first W steps (>= 0)", INT,
            Check.atLeast(0), TranscoderConfig::lrWarmUpSteps);
    static final Hyperparameter<TranscoderConfig, Integer> LR_DECAY_STEPS = new Hyperparameter<>("lr-decay-steps",
            "lr_decay_steps", "lr falls from lr to lr-end over the last D steps (>= 0); warm-up + decay must fit in "
                    + "the run", INT, Check.atLeast(0), TranscoderConfig::lrDecaySteps);
    static final Hyperparameter<TranscoderConfig, LrDecay> LR_DECAY = new Hyperparameter<>("lr-decay", "lr_decay",
            "shape of the lr's fall: linear or cosine", Hyperparameter.oneOf(LrDecay.values(), LrDecay::configName),
            Check.none(), TranscoderConfig::lrDecay);
    /** Its range, [0, lr], depends on lr: checked by the record. */
    static final Hyperparameter<TranscoderConfig, Double> LR_END = new Hyperparameter<>("lr-end", "lr_end",
            "learning rate of the last step, in [0, lr]", DOUBLE, Check.none(), TranscoderConfig::lrEnd);
    static final Hyperparameter<TranscoderConfig, Long> TRAINING_TOKENS = new Hyperparameter<>("training-tokens",
            "training_tokens", "tokens to train on (>= 1); steps = ceil(training-tokens / train-batch-size-tokens)",
            LONG, Check.atLeast(1), TranscoderConfig::trainingTokens);
    static final Hyperparameter<TranscoderConfig, Integer> TRAIN_BATCH_SIZE_TOKENS = new Hyperparameter<>(
            "train-batch-size-tokens", "train_batch_size_tokens", "tokens per optimiser step (>= 1)", INT,
            Check.atLeast(1), TranscoderConfig::trainBatchSizeTokens);
    /** SAELens counts the window in steps; tokens keep it the same when the batch size changes. */
    static final Hyperparameter<TranscoderConfig, Long> DEAD_FEATURE_WINDOW = new Hyperparameter<>(
            "dead-feature-window-tokens", "dead_feature_window_tokens", "a feature with no activation in this many of "
                    + "the latest training tokens is dead (>= 1)", LONG, Check.atLeast(1),
            TranscoderConfig::deadFeatureWindow);
    static final Hyperparameter<TranscoderConfig, Boolean> RESAMPLE_DEAD_FEATURES = new Hyperparameter<>(
            "resample-dead-features", "resample_dead_features", "re-initialise dead features toward high-loss inputs "
                    + "(Anthropic, \"Towards Monosemanticity\")", BOOLEAN, Check.none(),
            TranscoderConfig::resampleDeadFeatures);
    static final Hyperparameter<TranscoderConfig, Integer> RESAMPLE_INTERVAL_STEPS = new Hyperparameter<>(
            "resample-interval-steps", "feature_sampling_window", "resample every this many steps, never within the "
                    + "last interval of the run (>= 1)", INT, Check.atLeast(1),
            TranscoderConfig::resampleIntervalSteps);
    static final Hyperparameter<TranscoderConfig, Double> DECODER_INIT_NORM = new Hyperparameter<>(
            "decoder-init-norm", "decoder_init_norm", "norm of each initial decoder row and encoder column (> 0)",
            DOUBLE, Check.positiveFinite(), TranscoderConfig::decoderInitNorm);
    static final Hyperparameter<TranscoderConfig, Long> SEED = new Hyperparameter<>("seed", "seed",
            "seeds weight initialisation and resampling (any long)", LONG, Check.none(), TranscoderConfig::seed);
    static final Hyperparameter<TranscoderConfig, Double> INPUT_SCALE = new Hyperparameter<>("input-scale",
            "input_scale", "constant multiplying the MLP input in training (> 0 and finite), or null to estimate it "
                    + "so that the mean squared norm is d_in", NULLABLE_DOUBLE, TranscoderConfig::positiveOrNull,
            TranscoderConfig::inputScale);
    static final Hyperparameter<TranscoderConfig, Double> TARGET_SCALE = new Hyperparameter<>("target-scale",
            "target_scale", "the same for the target (mean squared norm d_out); equal to input-scale for an SAE",
            NULLABLE_DOUBLE, TranscoderConfig::positiveOrNull, TranscoderConfig::targetScale);
    static final Hyperparameter<TranscoderConfig, Integer> SCALING_BATCHES = new Hyperparameter<>("scaling-batches",
            "n_batches_for_norm_estimate", "batches read to estimate the scales (>= 1)", INT, Check.atLeast(1),
            TranscoderConfig::scalingBatches);

    /** Those saved between d_sae and dtype, in the order cfg.json and checkpoints have them. */
    static final List<Hyperparameter<TranscoderConfig, ?>> SAVED_IN_ORDER = List.of(L1_COEFFICIENT, L1_WARM_UP_STEPS,
            LR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, LR_WARM_UP_STEPS, LR_DECAY_STEPS, LR_DECAY, LR_END,
            TRAINING_TOKENS, TRAIN_BATCH_SIZE_TOKENS, DEAD_FEATURE_WINDOW, RESAMPLE_DEAD_FEATURES,
            RESAMPLE_INTERVAL_STEPS, DECODER_INIT_NORM, SEED, INPUT_SCALE, TARGET_SCALE, SCALING_BATCHES);

    /** Every hyperparameter of {@code cellcircuits.train}, the architecture's included. */
    static List<Hyperparameter<?, ?>> all() {
        List<Hyperparameter<?, ?>> all = new ArrayList<>(List.of(KIND, EXPANSION_FACTOR));
        all.addAll(SAVED_IN_ORDER);
        all.addAll(TranscoderArchitecture.SAVED_IN_ORDER);
        return List.copyOf(all);
    }

    /** Every hyperparameter of {@code cellcircuits.train}, the architecture's included (e.g. for MLlib params). */
    public static List<Hyperparameter<?, ?>> hyperparameters() {
        return all();
    }

    /** The hyperparameter of key {@code key} under {@code cellcircuits.train}, e.g. {@code l1-coefficient}. */
    public static Hyperparameter<?, ?> hyperparameter(String key) {
        for (Hyperparameter<?, ?> h : all()) {
            if (h.key().equals(key)) {
                return h;
            }
        }
        throw new IllegalArgumentException(String.format("%s%s is not a declared hyperparameter", KEY, key));
    }

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
        L1_COEFFICIENT.check(l1Coefficient);
        L1_WARM_UP_STEPS.check(l1WarmUpSteps);
        LR.check(lr);
        ADAM_BETA1.check(adamBeta1);
        ADAM_BETA2.check(adamBeta2);
        ADAM_EPSILON.check(adamEpsilon);
        LR_WARM_UP_STEPS.check(lrWarmUpSteps);
        LR_DECAY_STEPS.check(lrDecaySteps);
        ConfigChecks.require(lrEnd >= 0 && lrEnd <= lr, LR_END.name(), lrEnd, "in [0, lr = " + lr + "]");
        TRAINING_TOKENS.check(trainingTokens);
        TRAIN_BATCH_SIZE_TOKENS.check(trainBatchSizeTokens);
        long steps = (trainingTokens + trainBatchSizeTokens - 1) / trainBatchSizeTokens;
        if (steps > Integer.MAX_VALUE) {
            throw ConfigChecks.invalid(TRAINING_TOKENS.name(), trainingTokens,
                    "at most 2^31-1 steps of train-batch-size-tokens");
        }
        if ((long) lrWarmUpSteps + lrDecaySteps > steps) {
            throw new IllegalArgumentException(String.format(
                    "train.lr-warm-up-steps (%d) + train.lr-decay-steps (%d) exceed the run's %d steps "
                            + "(training-tokens %d / train-batch-size-tokens %d)",
                    lrWarmUpSteps, lrDecaySteps, steps, trainingTokens, trainBatchSizeTokens));
        }
        DEAD_FEATURE_WINDOW.check(deadFeatureWindow);
        RESAMPLE_INTERVAL_STEPS.check(resampleIntervalSteps);
        DECODER_INIT_NORM.check(decoderInitNorm);
        INPUT_SCALE.check(inputScale);
        TARGET_SCALE.check(targetScale);
        if (kind == TranscoderKind.SAE && !Objects.equals(inputScale, targetScale)) {
            throw new IllegalArgumentException(String.format(
                    "train.kind is sae but input-scale %s differs from target-scale %s; the target is the input",
                    inputScale, targetScale));
        }
        SCALING_BATCHES.check(scalingBatches);
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

    private static void positiveOrNull(String name, Double value) {
        ConfigChecks.require(value == null || value > 0 && !value.isInfinite(), name, value,
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

    // ---- one constructor call for every source -----------------------------------------------------------------

    /** The config with the shape (not hyperparameters: they come from the data) and every hyperparameter's value. */
    private static TranscoderConfig of(Hyperparameter.Source v, String modelName, int layer, int dIn, int dOut, int dSae,
            String dtype, TranscoderArchitecture architecture) {
        return new TranscoderConfig(v.get(KIND), modelName, layer, dIn, dOut, dSae, v.get(L1_COEFFICIENT),
                v.get(L1_WARM_UP_STEPS), v.get(LR), v.get(ADAM_BETA1), v.get(ADAM_BETA2), v.get(ADAM_EPSILON),
                v.get(LR_WARM_UP_STEPS), v.get(LR_DECAY_STEPS), v.get(LR_DECAY), v.get(LR_END),
                v.get(TRAINING_TOKENS), v.get(TRAIN_BATCH_SIZE_TOKENS), v.get(DEAD_FEATURE_WINDOW),
                v.get(RESAMPLE_DEAD_FEATURES), v.get(RESAMPLE_INTERVAL_STEPS), v.get(DECODER_INIT_NORM), v.get(SEED),
                v.get(INPUT_SCALE), v.get(TARGET_SCALE), v.get(SCALING_BATCHES), dtype, architecture);
    }

    // ---- JSON (cfg.json "training" object, checkpoints) -------------------------------------------------------

    /** The config as JSON with SAELens's names where SAELens has them. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        KIND.write(o, this);
        o.addProperty("model_name", modelName);
        o.addProperty("hook_layer", layer);
        o.addProperty("hook_name", hookNameIn());
        o.addProperty("hook_name_out", hookNameOut());
        o.addProperty("d_in", dIn);
        o.addProperty("d_out", dOut);
        o.addProperty("d_sae", dSae);
        for (Hyperparameter<TranscoderConfig, ?> h : SAVED_IN_ORDER) {
            h.write(o, this);
        }
        o.addProperty("dtype", dtype);
        architecture.writeJson(o);
        return o;
    }

    /** Reads {@link #toJson()}'s output; {@code where} names the file in errors. */
    public static TranscoderConfig fromJson(JsonObject o, String where) {
        JsonFields f = new JsonFields(o, where);
        return of(Hyperparameter.Source.of(f), f.string("model_name"), f.integer("hook_layer"), f.integer("d_in"), f.integer("d_out"),
                f.integer("d_sae"), f.string("dtype"), TranscoderArchitecture.readJson(f, o));
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
        int expansion = EXPANSION_FACTOR.read(train);
        EXPANSION_FACTOR.check(expansion);
        return fromConfig(train, modelName, layer, dIn, dOut, Math.multiplyExact(expansion, dIn), "float32");
    }

    private static TranscoderConfig fromConfig(Config train, String modelName, int layer, int dIn, int dOut,
            int dSae, String dtype) {
        return of(Hyperparameter.Source.of(train), modelName, layer, dIn, dOut, dSae, dtype, TranscoderArchitecture.fromConfig(train));
    }

    /** A builder at the defaults of {@code conf/reference.conf}. */
    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder().modelName(modelName).layer(layer).dIn(dIn).dOut(dOut).dSae(dSae).dtype(dtype)
                .architecture(architecture);
        b.set(KIND, kind);
        for (Hyperparameter<TranscoderConfig, ?> h : SAVED_IN_ORDER) {
            b.setFrom(h, this);
        }
        return b;
    }

    /**
     * Settings one at a time over the defaults of {@code conf/reference.conf} (a {@code cellcircuits.train} section
     * the setters change). {@code dSae} left at 0 means {@code expansion-factor x dIn}; {@code dOut} left at 0 means
     * dIn.
     */
    public static final class Builder {
        /** Parsed once: a Config is immutable, and tests build thousands. */
        private static final Config REFERENCE = ReferenceConfig.load().getConfig("cellcircuits.train");

        private Config train = REFERENCE;
        private String modelName;
        private int layer;
        private int dIn;
        private int dOut;
        private int dSae;
        private String dtype = "float32";

        <T> Builder set(Hyperparameter<?, T> h, T v) {
            train = train.withValue(h.key(), ConfigValueFactory.fromAnyRef(h.configValue(v)));
            return this;
        }

        private <O, T> void setFrom(Hyperparameter<O, T> h, O owner) {
            set(h, h.value().apply(owner));
        }

        public Builder kind(TranscoderKind v) { return set(KIND, v); }
        public Builder modelName(String v) { modelName = v; return this; }
        public Builder layer(int v) { layer = v; return this; }
        public Builder dIn(int v) { dIn = v; return this; }
        public Builder dOut(int v) { dOut = v; return this; }
        public Builder dSae(int v) { dSae = v; return this; }
        public Builder expansionFactor(int v) { dSae = 0; return set(EXPANSION_FACTOR, v); }
        public Builder l1Coefficient(double v) { return set(L1_COEFFICIENT, v); }
        public Builder l1WarmUpSteps(int v) { return set(L1_WARM_UP_STEPS, v); }
        public Builder lr(double v) { return set(LR, v); }
        public Builder adamBeta1(double v) { return set(ADAM_BETA1, v); }
        public Builder adamBeta2(double v) { return set(ADAM_BETA2, v); }
        public Builder adamEpsilon(double v) { return set(ADAM_EPSILON, v); }
        public Builder lrWarmUpSteps(int v) { return set(LR_WARM_UP_STEPS, v); }
        public Builder lrDecaySteps(int v) { return set(LR_DECAY_STEPS, v); }
        public Builder lrDecay(LrDecay v) { return set(LR_DECAY, v); }
        public Builder lrEnd(double v) { return set(LR_END, v); }
        public Builder trainingTokens(long v) { return set(TRAINING_TOKENS, v); }
        public Builder trainBatchSizeTokens(int v) { return set(TRAIN_BATCH_SIZE_TOKENS, v); }
        public Builder deadFeatureWindow(long v) { return set(DEAD_FEATURE_WINDOW, v); }
        public Builder resampleDeadFeatures(boolean v) { return set(RESAMPLE_DEAD_FEATURES, v); }
        public Builder resampleIntervalSteps(int v) { return set(RESAMPLE_INTERVAL_STEPS, v); }
        public Builder decoderInitNorm(double v) { return set(DECODER_INIT_NORM, v); }
        public Builder seed(long v) { return set(SEED, v); }
        public Builder inputScale(Double v) { return set(INPUT_SCALE, v); }
        public Builder targetScale(Double v) { return set(TARGET_SCALE, v); }
        public Builder scalingBatches(int v) { return set(SCALING_BATCHES, v); }
        public Builder dtype(String v) { dtype = v; return this; }
        public Builder architecture(TranscoderArchitecture v) {
            for (Hyperparameter<TranscoderArchitecture, ?> h : TranscoderArchitecture.SAVED_IN_ORDER) {
                setFrom(h, v);
            }
            return this;
        }
        public Builder activation(Activation v) { return set(TranscoderArchitecture.ACTIVATION, v); }
        public Builder k(int v) { return set(TranscoderArchitecture.K, v); }
        public Builder l0Coefficient(double v) { return set(TranscoderArchitecture.L0_COEFFICIENT, v); }
        public Builder skipConnection(boolean v) { return set(TranscoderArchitecture.SKIP_CONNECTION, v); }

        public TranscoderConfig build() {
            int out = dOut == 0 ? dIn : dOut;
            int features = dSae == 0 ? Math.multiplyExact(EXPANSION_FACTOR.read(train), Math.max(dIn, 0)) : dSae;
            return fromConfig(train, modelName, layer, dIn, out, features, dtype);
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
