package org.cellcircuits.transcoder;

import java.io.Serializable;
import java.util.Objects;
import org.cellcircuits.io.SoftwareVersions;

/**
 * How far a transcoder was trained and by what, written to cfg.json so that it can be traced and rebuilt.
 *
 * @param steps      optimiser steps taken
 * @param tokensSeen training tokens (rows) the steps used
 * @param configHash {@link TranscoderConfig#hash()} of the config it was trained with
 * @param versions   the software that trained it
 */
public record TrainingProvenance(long steps, long tokensSeen, String configHash, SoftwareVersions versions)
        implements Serializable {

    private static final long serialVersionUID = 1L;

    /**
     * Starts {@link #configHash} of a transcoder trained elsewhere: no config of ours trained it, so no hash of one
     * may stand there, and the prefix keeps it from ever equalling one.
     */
    public static final String IMPORTED = "imported:";

    public TrainingProvenance {
        if (steps < 0 || tokensSeen < 0) {
            throw new IllegalArgumentException(String.format(
                    "steps (%d) and tokens seen (%d) must be >= 0", steps, tokensSeen));
        }
        Objects.requireNonNull(configHash, "configHash");
        Objects.requireNonNull(versions, "versions");
    }

    /** An untrained transcoder of this config, made by this JVM's software. */
    public static TrainingProvenance untrained(TranscoderConfig config) {
        return new TrainingProvenance(0, 0, config.hash(), SoftwareVersions.current());
    }

    /**
     * A transcoder read from another tool's files ({@code source} says which and from where); steps and tokens are
     * 0 because those files do not record them, and the versions are of the software that imported it.
     */
    public static TrainingProvenance imported(String source) {
        return new TrainingProvenance(0, 0, IMPORTED + source, SoftwareVersions.current());
    }

    /** Whether this transcoder came from another tool's files rather than from our trainer. */
    public boolean isImported() {
        return configHash.startsWith(IMPORTED);
    }
}
