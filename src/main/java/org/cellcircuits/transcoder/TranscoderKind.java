package org.cellcircuits.transcoder;

import org.cellcircuits.io.ConfigChecks;

/**
 * What the dictionary learns to produce from the MLP input: the MLP's output (a transcoder, the paper's object) or
 * the input itself (a plain sparse autoencoder, the comparison the paper lacks). Both share every line of the trainer.
 */
public enum TranscoderKind {
    /** x = {@code blocks.L.ln2.hook_normalized}, target = {@code blocks.L.hook_mlp_out}. */
    TRANSCODER("transcoder"),
    /** x = target = {@code blocks.L.ln2.hook_normalized}. */
    SAE("sae");

    private final String configName;

    TranscoderKind(String configName) {
        this.configName = configName;
    }

    /** The value of {@code train.kind}. */
    public String configName() {
        return configName;
    }

    /** The constant named {@code text} in a config (trimmed, case-insensitive). */
    public static TranscoderKind parse(String text) {
        return ConfigChecks.oneOf("cellcircuits.train.kind", text, values(), TranscoderKind::configName);
    }
}
