package org.cellcircuits.transcoder;

import java.util.Locale;

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

    public static TranscoderKind parse(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        for (TranscoderKind k : values()) {
            if (k.configName.equals(t)) {
                return k;
            }
        }
        throw new IllegalArgumentException(String.format("train.kind is invalid: '%s'; need transcoder or sae", text));
    }
}
