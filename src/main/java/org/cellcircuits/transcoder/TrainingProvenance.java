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
}
