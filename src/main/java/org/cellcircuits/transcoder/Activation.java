package org.cellcircuits.transcoder;

import org.cellcircuits.io.ConfigChecks;

/**
 * How a transcoder turns pre-activations {@code pre = x W_enc + b_enc} into feature activations z. In every case z is
 * either 0 or equal to {@code pre}, so given which features are active a feature is linear in its input: what makes
 * attribution graphs exact for all four (the active set is frozen with the cell, as the attention patterns are).
 *
 * <ul>
 *   <li>{@link #RELU}: {@code z = max(pre, 0)}, sparsity from an L1 penalty (the paper; SAELens "standard").</li>
 *   <li>{@link #TOPK}: the k largest positive pre-activations of each token survive (Gao et al. 2024; EleutherAI
 *       {@code sparsify}; SAELens "topk"); no penalty, an AuxK loss revives dead features.</li>
 *   <li>{@link #BATCHTOPK}: while training, the k x B largest positive pre-activations of a batch of B tokens survive
 *       (Bussmann et al. 2024; SAELens "batchtopk"); afterwards a single threshold, the running mean of the smallest
 *       activation that survived, decides, so the saved transcoder is a JumpReLU with one threshold for all features
 *       (SAELens saves it the same way).</li>
 *   <li>{@link #JUMPRELU}: {@code z = pre if pre > theta_i else 0} with a learned threshold per feature and a
 *       straight-through L0 penalty (Rajamanoharan et al. 2024; Gemma Scope; SAELens "jumprelu").</li>
 * </ul>
 */
public enum Activation {
    RELU("relu"),
    TOPK("topk"),
    BATCHTOPK("batchtopk"),
    JUMPRELU("jumprelu");

    private final String configName;

    Activation(String configName) {
        this.configName = configName;
    }

    /** The value of {@code train.activation}. */
    public String configName() {
        return configName;
    }

    /** The activation a saved transcoder applies: BatchTopK is saved as JumpReLU with its learned threshold. */
    public Activation atInference() {
        return this == BATCHTOPK ? JUMPRELU : this;
    }

    /** Whether a saved transcoder of this activation carries a {@code threshold} tensor [d_sae]. */
    public boolean hasThreshold() {
        return atInference() == JUMPRELU;
    }

    /**
     * Whether training keeps the k largest activations (of a token, or of a batch): TopK and BatchTopK, the two that
     * k sets, that keep unit-norm decoder rows and that revive dead features with AuxK.
     */
    public boolean selectsByRank() {
        return this == TOPK || this == BATCHTOPK;
    }

    /** The constant named {@code text} in a config (trimmed, case-insensitive). */
    public static Activation parse(String text) {
        return ConfigChecks.oneOf("cellcircuits.train.activation", text, values(), Activation::configName);
    }
}
