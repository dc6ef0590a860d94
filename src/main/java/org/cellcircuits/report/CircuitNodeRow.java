package org.cellcircuits.report;

import java.util.Objects;

/**
 * One kept node of one cell's circuit: the {@code circuits/nodes} columns the report aggregates.
 *
 * @param cellId the traced cell
 * @param nodeId the node's id in that cell's graph ({@code F:layer:pos:feature}, {@code T:pos}, {@code E:layer:pos},
 *     {@code TARGET})
 * @param kind {@code feature}, {@code token}, {@code error} or {@code target}
 * @param layer the feature's layer, else null
 * @param feature the feature's index, else null
 * @param gene for a token inside a gene symbol, that gene (every BPE piece of a symbol carries it), else null
 * @param influence the node's share of the target's influence after pruning
 * @param attribution its signed total effect on the target
 */
public record CircuitNodeRow(String cellId, String nodeId, String kind, Integer layer, Integer feature, String gene,
    double influence, double attribution) {
  public CircuitNodeRow {
    Objects.requireNonNull(cellId, "cell id");
    Objects.requireNonNull(nodeId, "node id");
    Objects.requireNonNull(kind, "node kind");
    if (kind.equals("feature") && (layer == null || feature == null)) {
      throw new IllegalArgumentException(String.format(
          "feature node %s of cell %s has layer %s and feature %s; both are required", nodeId, cellId, layer, feature));
    }
  }
}
