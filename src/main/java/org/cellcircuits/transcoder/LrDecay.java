package org.cellcircuits.transcoder;

import org.cellcircuits.io.ConfigChecks;

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

    /** The constant named {@code text} in a config (trimmed, case-insensitive). */
    public static LrDecay parse(String text) {
        return ConfigChecks.oneOf("cellcircuits.train.lr-decay", text, values(), LrDecay::configName);
    }
}
