package org.cellcircuits.report;

import java.util.Objects;

/** One kept edge of one cell's circuit ({@code circuits/edges}): the direct effect of source on target. */
public record CircuitEdgeRow(String cellId, String source, String target, double weight) {
  public CircuitEdgeRow {
    Objects.requireNonNull(cellId, "cell id");
    Objects.requireNonNull(source, "edge source");
    Objects.requireNonNull(target, "edge target");
  }
}
