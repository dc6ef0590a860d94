package org.cellcircuits.circuits;

/**
 * How faithful one attribution graph is, as numbers.
 *
 * @param replacement circuit-tracer's replacement score: of the influence on the target that reaches the inputs,
 *     the share that ends at token nodes rather than error nodes (1 = nothing unexplained on the way)
 * @param completeness circuit-tracer's completeness score: the influence-weighted share of each node's input that
 *     comes from non-error nodes
 * @param errorShare the share of the target's value carried directly by error nodes: (sum of the error nodes' edges
 *     into the target) / (target value); signed, 0 when the transcoders miss nothing the target reads
 */
public record GraphScores(double replacement, double completeness, double errorShare) {}
