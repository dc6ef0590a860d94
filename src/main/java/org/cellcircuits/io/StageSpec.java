package org.cellcircuits.io;

import com.typesafe.config.Config;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What identifies one stage's output: its name, the config subtree that shapes it and the fingerprints of what it
 * reads. Two runs with equal specs make the same output, so the second one is skipped.
 *
 * @param stage stage name (the folder under the run root)
 * @param stageConfig the config that determines the output, e.g. the {@code sentences} section; run-level settings
 *     such as the Spark master are left out on purpose, since they do not change what is written
 * @param inputFingerprints input name to fingerprint ({@link InputFingerprints})
 */
public record StageSpec(String stage, Config stageConfig, Map<String, String> inputFingerprints) {
  public StageSpec {
    RunRoot.requireStageName(stage);
    stageConfig = Objects.requireNonNull(stageConfig, "stageConfig").resolve();
    Objects.requireNonNull(inputFingerprints, "inputFingerprints");
    Map<String, String> copy = new TreeMap<>();
    inputFingerprints.forEach((k, v) -> copy.put(Objects.requireNonNull(k), Objects.requireNonNull(v, k)));
    inputFingerprints = Collections.unmodifiableMap(copy);
  }

  /** The stage config as canonical JSON. */
  public String configJson() {
    return CanonicalConfig.json(stageConfig);
  }

  /** SHA-256 of {@link #configJson()}. */
  public String configHash() {
    return CanonicalConfig.sha256Hex(configJson());
  }
}
