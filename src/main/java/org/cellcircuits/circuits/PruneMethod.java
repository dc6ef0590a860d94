package org.cellcircuits.circuits;

import java.util.Locale;

/** How a graph is cut down to its circuit ({@code circuits.method}). */
public enum PruneMethod {
  /** circuit-tracer's: keep the nodes and edges that carry the set shares of influence on the target. */
  INFLUENCE,
  /** The paper's top-k path tracing: from the target, follow each node's k largest inputs, layer by layer. */
  GREEDY;

  public static PruneMethod parse(String text) {
    for (PruneMethod m : values()) {
      if (m.name().toLowerCase(Locale.ROOT).equals(text)) {
        return m;
      }
    }
    throw new IllegalArgumentException(String.format("circuits.method is \"%s\"; expected influence or greedy", text));
  }

  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
