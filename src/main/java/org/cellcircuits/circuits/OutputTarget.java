package org.cellcircuits.circuits;

/**
 * What the graph explains, read at the last prompt position: the logit of one token, or the difference between the
 * logits of two (a contrast between two cell types).
 *
 * @param token the token whose logit counts positively
 * @param minus the token whose logit is subtracted, or -1 for a plain logit
 * @param label for people: the cell type(s) and tokens, e.g. {@code logit ' endothelial'}
 */
public record OutputTarget(long token, long minus, String label) {

  public OutputTarget {
    if (token < 0) {
      throw new IllegalArgumentException("target token id " + token + " must be >= 0");
    }
    if (minus == token) {
      throw new IllegalArgumentException(String.format(
          "logit difference of token %d with itself is always 0 (%s): the two labels start with the same token", token,
          label));
    }
  }

  public static OutputTarget logit(long token, String label) {
    return new OutputTarget(token, -1, label);
  }

  public static OutputTarget difference(long token, long minus, String label) {
    if (minus < 0) {
      throw new IllegalArgumentException("the subtracted token id " + minus + " must be >= 0");
    }
    return new OutputTarget(token, minus, label);
  }

  /** The token the model would write next: the highest logit (the lowest id among ties). */
  public static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }

  /** The target's value given the last position's logits. */
  public double value(float[] logits) {
    return minus < 0 ? logits[(int) token] : (double) logits[(int) token] - logits[(int) minus];
  }
}
