package org.cellcircuits.circuits;

/**
 * What a node of an attribution graph stands for, in the order nodes are laid out in {@link AttributionGraph}.
 */
public enum NodeKind {
  /** An active transcoder feature {@code (layer, pos, feature)}: a latent the circuit can be read in. */
  FEATURE,
  /** What one layer's transcoder misses at one position, {@code MLP(x) - transcoder(x)}: the graph's blind spot. */
  ERROR,
  /** One prompt token's embedding; a token inside a gene symbol is that gene's input to the circuit. */
  TOKEN,
  /** The quantity explained: a logit, or a difference of two logits, at the last prompt position. */
  TARGET
}
