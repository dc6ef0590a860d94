package org.cellcircuits.transcoder;

import static org.cellcircuits.transcoder.Hyperparameter.BOOLEAN;
import static org.cellcircuits.transcoder.Hyperparameter.DOUBLE;
import static org.cellcircuits.transcoder.Hyperparameter.INT;
import static org.cellcircuits.transcoder.TranscoderConfig.KEY;

import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import java.io.Serializable;
import java.util.List;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.transcoder.Hyperparameter.Check;

/**
 * The activation function of a transcoder, the hyperparameters that belong to it, and whether it has a skip
 * connection. Each is declared once below as a {@link Hyperparameter} (key under {@code cellcircuits.train}, JSON
 * name, meaning and range, validator); defaults are in {@code conf/reference.conf}. Those of another activation are
 * kept (so one config file can switch activation with one key) but not used. JSON names are SAELens's
 * ({@code sae_lens/saes/topk_sae.py}, {@code batchtopk_sae.py}, {@code jumprelu_sae.py}) where it has them. Sources:
 * AuxK, Gao et al. 2024 Appendix B.1 (the dead features' k_aux = d_out / 2 largest pre-activations predict what the
 * living ones miss); JumpReLU's straight-through L0 gradient, Rajamanoharan et al. 2024; the skip connection, Paulo,
 * Shabalin and Belrose 2025 (SAELens's {@code SkipTranscoder}), initialised at zero.
 */
public record TranscoderArchitecture(Activation activation, int k, double auxKCoefficient, double l0Coefficient,
        double thresholdInit, double bandwidth, double thresholdRate, boolean skipConnection) implements Serializable {

    private static final long serialVersionUID = 1L;

    static final Hyperparameter<TranscoderArchitecture, Activation> ACTIVATION = new Hyperparameter<>("activation",
            "activation", "the activation function: relu, topk, batchtopk or jumprelu",
            Hyperparameter.oneOf(Activation.values(), Activation::configName), Check.none(),
            TranscoderArchitecture::activation);
    /** Its upper bound, d_sae, is checked by {@link TranscoderConfig}. */
    static final Hyperparameter<TranscoderArchitecture, Integer> K = new Hyperparameter<>("k", "k",
            "features kept per token by topk, and on average by batchtopk, in [1, d_sae]", INT, Check.atLeast(1),
            TranscoderArchitecture::k);
    static final Hyperparameter<TranscoderArchitecture, Double> AUX_K_COEFFICIENT = new Hyperparameter<>(
            "aux-k-coefficient", "aux_loss_coefficient", "weight of the AuxK loss of topk and batchtopk (>= 0; 0 turns "
                    + "it off)", DOUBLE, Check.finiteAtLeast(0), TranscoderArchitecture::auxKCoefficient);
    static final Hyperparameter<TranscoderArchitecture, Double> L0_COEFFICIENT = new Hyperparameter<>(
            "l0-coefficient", "l0_coefficient", "weight of jumprelu's L0 penalty (>= 0)", DOUBLE,
            Check.finiteAtLeast(0), TranscoderArchitecture::l0Coefficient);
    static final Hyperparameter<TranscoderArchitecture, Double> JUMPRELU_THRESHOLD_INIT = new Hyperparameter<>(
            "jumprelu-threshold-init", "jumprelu_init_threshold", "every JumpReLU threshold at the start (> 0)",
            DOUBLE, Check.positiveFinite(), TranscoderArchitecture::thresholdInit);
    static final Hyperparameter<TranscoderArchitecture, Double> JUMPRELU_BANDWIDTH = new Hyperparameter<>(
            "jumprelu-bandwidth", "jumprelu_bandwidth", "width of the straight-through estimator's rectangle kernel "
                    + "(> 0)", DOUBLE, Check.positiveFinite(), TranscoderArchitecture::bandwidth);
    static final Hyperparameter<TranscoderArchitecture, Double> BATCHTOPK_THRESHOLD_RATE = new Hyperparameter<>(
            "batchtopk-threshold-rate", "topk_threshold_lr", "rate of the running mean that sets batchtopk's saved "
                    + "threshold, in (0, 1]", DOUBLE, Check.in(r -> r > 0 && r <= 1, "in (0, 1]"),
            TranscoderArchitecture::thresholdRate);
    static final Hyperparameter<TranscoderArchitecture, Boolean> SKIP_CONNECTION = new Hyperparameter<>(
            "skip-connection", "skip_connection", "a learned linear path x W_skip^T from the MLP input to the output "
                    + "(transcoders only)", BOOLEAN, Check.none(), TranscoderArchitecture::skipConnection);

    /** All of them, in the order cfg.json and checkpoints have them. */
    static final List<Hyperparameter<TranscoderArchitecture, ?>> SAVED_IN_ORDER = List.of(ACTIVATION, K,
            AUX_K_COEFFICIENT, L0_COEFFICIENT, JUMPRELU_THRESHOLD_INIT, JUMPRELU_BANDWIDTH, BATCHTOPK_THRESHOLD_RATE,
            SKIP_CONNECTION);

    /**
     * ReLU + L1 without skip connection, what a file written before these keys existed was trained as. Fixed values,
     * not the reference defaults: they are part of those files' config hashes.
     */
    public static final TranscoderArchitecture DEFAULT =
            new TranscoderArchitecture(Activation.RELU, 32, 1.0 / 32, 1.0, 0.01, 0.05, 0.01, false);

    public TranscoderArchitecture {
        Objects.requireNonNull(activation, "activation");
        K.check(k);
        AUX_K_COEFFICIENT.check(auxKCoefficient);
        L0_COEFFICIENT.check(l0Coefficient);
        JUMPRELU_THRESHOLD_INIT.check(thresholdInit);
        JUMPRELU_BANDWIDTH.check(bandwidth);
        BATCHTOPK_THRESHOLD_RATE.check(thresholdRate);
    }

    /** The same with another activation. */
    public TranscoderArchitecture withActivation(Activation a) {
        return new TranscoderArchitecture(a, k, auxKCoefficient, l0Coefficient, thresholdInit, bandwidth,
                thresholdRate, skipConnection);
    }

    /** The same with another k. */
    public TranscoderArchitecture withK(int newK) {
        return new TranscoderArchitecture(activation, newK, auxKCoefficient, l0Coefficient, thresholdInit, bandwidth,
                thresholdRate, skipConnection);
    }

    /** The same with another L0 coefficient. */
    public TranscoderArchitecture withL0Coefficient(double c) {
        return new TranscoderArchitecture(activation, k, auxKCoefficient, c, thresholdInit, bandwidth, thresholdRate,
                skipConnection);
    }

    /** The same with or without a skip connection. */
    public TranscoderArchitecture withSkipConnection(boolean skip) {
        return new TranscoderArchitecture(activation, k, auxKCoefficient, l0Coefficient, thresholdInit, bandwidth,
                thresholdRate, skip);
    }

    /** Whether training keeps every decoder row at unit norm (TopK and BatchTopK, as sparsify and SAELens do). */
    public boolean unitNormDecoder() {
        return activation.selectsByRank();
    }

    /**
     * SAELens's {@code architecture} of a saved file: for a transcoder "transcoder", "skip_transcoder",
     * "jumprelu_transcoder" or "jumprelu_skip_transcoder" ({@code sae_lens/saes/transcoder.py}); SAELens has no TopK
     * transcoder, so that one is "topk_transcoder" / "topk_skip_transcoder" by the same pattern. For an SAE
     * "standard", "topk" or "jumprelu". BatchTopK is saved as JumpReLU, as SAELens saves it.
     */
    public String saeLensArchitecture(TranscoderKind kind) {
        Activation a = activation.atInference();
        if (kind == TranscoderKind.SAE) {
            return switch (a) {
                case RELU -> "standard";
                case TOPK -> "topk";
                default -> "jumprelu";
            };
        }
        String prefix = switch (a) {
            case RELU -> "";
            case TOPK -> "topk_";
            default -> "jumprelu_";
        };
        return prefix + (skipConnection ? "skip_" : "") + "transcoder";
    }

    /** circuit-tracer's {@code activation_function}: "relu", "topk" or "jump_relu". */
    public String circuitTracerActivation() {
        return switch (activation.atInference()) {
            case RELU -> "relu";
            case TOPK -> "topk";
            default -> "jump_relu";
        };
    }

    void checkAgainst(int dSae, boolean isSae) {
        if (activation.selectsByRank() && k > dSae) {
            throw ConfigChecks.invalid(KEY + "k", k,
                    "<= d_sae (" + dSae + ") for activation " + activation.configName());
        }
        if (isSae && skipConnection) {
            throw new IllegalArgumentException(
                    "train.skip-connection is true but train.kind is sae: an SAE with a skip connection would learn "
                            + "the identity; skip connections are for transcoders");
        }
    }

    void writeJson(JsonObject o) {
        for (Hyperparameter<TranscoderArchitecture, ?> h : SAVED_IN_ORDER) {
            h.write(o, this);
        }
    }

    /** Reads {@link #writeJson}'s keys; a file written before they existed was ReLU + L1 ({@link #DEFAULT}). */
    static TranscoderArchitecture readJson(TranscoderConfig.JsonFields f, JsonObject o) {
        return o.has(ACTIVATION.jsonName()) ? of(Hyperparameter.Source.of(f)) : DEFAULT;
    }

    /** Reads the keys of {@code cellcircuits.train}. */
    static TranscoderArchitecture fromConfig(Config train) {
        return of(Hyperparameter.Source.of(train));
    }

    private static TranscoderArchitecture of(Hyperparameter.Source v) {
        return new TranscoderArchitecture(v.get(ACTIVATION), v.get(K), v.get(AUX_K_COEFFICIENT), v.get(L0_COEFFICIENT),
                v.get(JUMPRELU_THRESHOLD_INIT), v.get(JUMPRELU_BANDWIDTH), v.get(BATCHTOPK_THRESHOLD_RATE),
                v.get(SKIP_CONNECTION));
    }
}
