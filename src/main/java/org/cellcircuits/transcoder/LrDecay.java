package org.cellcircuits.transcoder;

import java.util.Locale;

/** Shape of the learning-rate decay over the last {@code lr-decay-steps} steps, from {@code lr} to {@code lr-end}. */
public enum LrDecay {
    LINEAR("linear"),
    COSINE("cosine");

    private final String configName;

    LrDecay(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    public static LrDecay parse(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        for (LrDecay d : values()) {
            if (d.configName.equals(t)) {
                return d;
            }
        }
        throw new IllegalArgumentException(String.format("train.lr-decay is invalid: '%s'; need linear or cosine", text));
    }
}
