package org.cellcircuits.transcoder;

import static org.cellcircuits.transcoder.TranscoderConfig.KEY;

import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import java.io.Serializable;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;

/**
 * The activation function of a transcoder, the hyperparameters that belong to it, and whether it has a skip
 * connection. Each hyperparameter is declared here once, with its range; those of another activation are kept (so
 * one config file can switch activation with one key) but not used. Keys under {@code cellcircuits.train} in
 * parentheses, JSON names SAELens's ({@code sae_lens/saes/topk_sae.py}, {@code batchtopk_sae.py},
 * {@code jumprelu_sae.py}) where it has them.
 *
 * @param activation      ({@code activation}) relu | topk | batchtopk | jumprelu; default relu (the paper)
 * @param k               ({@code k}) features kept per token by topk, and on average by batchtopk, in [1, d_sae];
 *                        default 32
 * @param auxKCoefficient ({@code aux-k-coefficient}) weight of the AuxK loss (topk, batchtopk): the dead features'
 *                        k_aux = d_out / 2 largest pre-activations must predict what the living ones miss, as in
 *                        Gao et al. 2024 Appendix B.1; >= 0, 0 turns it off; default 1/32 (theirs)
 * @param l0Coefficient   ({@code l0-coefficient}) weight of the L0 penalty of jumprelu (number of active features per
 *                        token, with the straight-through gradient to the thresholds); >= 0; default 1 (SAELens's)
 * @param thresholdInit   ({@code jumprelu-threshold-init}) every JumpReLU threshold at the start, > 0; default 0.01
 *                        (SAELens's)
 * @param bandwidth       ({@code jumprelu-bandwidth}) width of the rectangle kernel of the straight-through
 *                        estimator, > 0; default 0.05 (SAELens's)
 * @param thresholdRate   ({@code batchtopk-threshold-rate}) rate of the running mean that turns batchtopk's smallest
 *                        surviving activation into the inference threshold, in (0, 1]; default 0.01 (SAELens's
 *                        {@code topk_threshold_lr})
 * @param skipConnection  ({@code skip-connection}) add a learned affine path {@code x W_skip^T} from the MLP input to
 *                        the output, initialised at zero (Paulo, Shabalin and Belrose 2025; SAELens's
 *                        {@code SkipTranscoder}); default false
 */
public record TranscoderArchitecture(Activation activation, int k, double auxKCoefficient, double l0Coefficient,
        double thresholdInit, double bandwidth, double thresholdRate, boolean skipConnection) implements Serializable {

    private static final long serialVersionUID = 1L;

    /** ReLU + L1, no skip connection: the paper's transcoder, and what a file without these keys was trained as. */
    public static final TranscoderArchitecture DEFAULT =
            new TranscoderArchitecture(Activation.RELU, 32, 1.0 / 32, 1.0, 0.01, 0.05, 0.01, false);

    public TranscoderArchitecture {
        Objects.requireNonNull(activation, "activation");
        ConfigChecks.atLeast(KEY + "k", k, 1);
        ConfigChecks.finiteAtLeast(KEY + "aux-k-coefficient", auxKCoefficient, 0);
        ConfigChecks.finiteAtLeast(KEY + "l0-coefficient", l0Coefficient, 0);
        ConfigChecks.positiveFinite(KEY + "jumprelu-threshold-init", thresholdInit);
        ConfigChecks.positiveFinite(KEY + "jumprelu-bandwidth", bandwidth);
        ConfigChecks.require(thresholdRate > 0 && thresholdRate <= 1, KEY + "batchtopk-threshold-rate", thresholdRate,
                "in (0, 1]");
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
        o.addProperty("activation", activation.configName());
        o.addProperty("k", k);
        o.addProperty("aux_loss_coefficient", auxKCoefficient);
        o.addProperty("l0_coefficient", l0Coefficient);
        o.addProperty("jumprelu_init_threshold", thresholdInit);
        o.addProperty("jumprelu_bandwidth", bandwidth);
        o.addProperty("topk_threshold_lr", thresholdRate);
        o.addProperty("skip_connection", skipConnection);
    }

    /** Reads {@link #writeJson}'s keys; a file written before they existed was ReLU + L1 ({@link #DEFAULT}). */
    static TranscoderArchitecture readJson(TranscoderConfig.JsonFields f, JsonObject o) {
        if (!o.has("activation")) {
            return DEFAULT;
        }
        return new TranscoderArchitecture(Activation.parse(f.string("activation")), f.integer("k"),
                f.number("aux_loss_coefficient"), f.number("l0_coefficient"), f.number("jumprelu_init_threshold"),
                f.number("jumprelu_bandwidth"), f.number("topk_threshold_lr"), f.bool("skip_connection"));
    }

    /** Reads the keys of {@code cellcircuits.train}. */
    static TranscoderArchitecture fromConfig(Config train) {
        return new TranscoderArchitecture(Activation.parse(train.getString("activation")), train.getInt("k"),
                train.getDouble("aux-k-coefficient"), train.getDouble("l0-coefficient"),
                train.getDouble("jumprelu-threshold-init"), train.getDouble("jumprelu-bandwidth"),
                train.getDouble("batchtopk-threshold-rate"), train.getBoolean("skip-connection"));
    }
}
