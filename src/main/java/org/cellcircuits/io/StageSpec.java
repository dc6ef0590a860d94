package org.cellcircuits.io;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What identifies one stage's output: its name, the config subtree that shapes it and the fingerprints of what it
 * reads. Two runs with equal specs make the same output, so the second one is skipped.
 *
 * @param stage stage name (the folder under the run root)
 * @param stageConfig the config that determines the output, e.g. the {@code sentences} section; run-level settings
 *     such as the Spark master are left out on purpose, since they do not change what is written
 * @param inputFingerprints input name to fingerprint ({@link InputFingerprints})
 * @param locationKeys keys of {@code stageConfig} (as {@link CanonicalConfig#differences} names them, e.g. {@code
 *     model.path}) that only say where an external input is: the input's content fingerprint decides whether it
 *     changed, so a copied model folder or atlas at another path is the same input. They are still recorded (and
 *     hashed) in the marker, as provenance.
 */
public record StageSpec(
    String stage, Config stageConfig, Map<String, String> inputFingerprints, Set<String> locationKeys) {
  public StageSpec {
    RunRoot.requireStageName(stage);
    stageConfig = Objects.requireNonNull(stageConfig, "stageConfig").resolve();
    Objects.requireNonNull(inputFingerprints, "inputFingerprints");
    Map<String, String> copy = new TreeMap<>();
    inputFingerprints.forEach((k, v) -> copy.put(Objects.requireNonNull(k), Objects.requireNonNull(v, k)));
    inputFingerprints = Collections.unmodifiableMap(copy);
    locationKeys = Collections.unmodifiableSet(new TreeSet<>(Objects.requireNonNull(locationKeys, "locationKeys")));
  }

  /** A spec whose config holds no input locations. */
  public StageSpec(String stage, Config stageConfig, Map<String, String> inputFingerprints) {
    this(stage, stageConfig, inputFingerprints, Set.of());
  }

  /** The stage config as canonical JSON. */
  public String configJson() {
    return CanonicalConfig.json(stageConfig);
  }

  /** SHA-256 of {@link #configJson()}. */
  public String configHash() {
    return CanonicalConfig.sha256Hex(configJson());
  }

  /**
   * What differs between a committed marker and this spec, one line each: config keys first ({@code key: old ->
   * new}, input locations left out), then inputs ({@link InputFingerprints#differences}). Empty when the marker was
   * made from the same config and the same inputs, i.e. when the stage may be skipped.
   */
  public List<String> differences(StageMarker marker) {
    List<String> lines = new ArrayList<>();
    if (!marker.configHash().equals(configHash())) {
      for (String line : CanonicalConfig.differences(
          CanonicalConfig.parse(marker.configJson()), CanonicalConfig.parse(configJson()))) {
        if (!locationKeys.contains(line.substring(0, line.indexOf(": ")))) {
          lines.add(line);
        }
      }
    }
    lines.addAll(InputFingerprints.differences(marker.inputs(), inputFingerprints));
    return lines;
  }
}
