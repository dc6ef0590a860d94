package org.cellcircuits.circuits;

import java.util.Locale;
import org.cellcircuits.io.ConfigChecks;

/** How a graph is cut down to its circuit ({@code circuits.method}). */
public enum PruneMethod {
  /** circuit-tracer's: keep the nodes and edges that carry the set shares of influence on the target. */
  INFLUENCE,
  /** The paper's top-k path tracing: from the target, follow each node's k largest inputs, layer by layer. */
  GREEDY;

  /** The constant named {@code text} in a config (trimmed, case-insensitive). */
  public static PruneMethod parse(String text) {
    return ConfigChecks.oneOf("cellcircuits.circuits.method", text, values(), PruneMethod::configName);
  }

  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
