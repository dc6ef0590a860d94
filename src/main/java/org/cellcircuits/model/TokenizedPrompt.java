package org.cellcircuits.model;

import java.util.Arrays;
import java.util.List;

/**
 * A C2S prompt after tokenization, with every token traced back to the gene it spells.
 *
 * <p>Token {@code i} has id {@link #id(int)}, covers prompt characters {@code [start(i), end(i))} (UTF-16 indices
 * into {@link #prompt()}, so {@code prompt().substring(start(i), end(i))} is its text, without the leading space when
 * the tokenizer trims offsets as Pythia's does), and belongs to the gene at sentence position {@link #rank(int)}, or
 * to none ({@code -1}) for template text, punctuation, the separating spaces, and special tokens.
 *
 * <p>The assignment rule: a token belongs to the gene that contains its first non-whitespace character. Byte-level
 * BPE glues the space before a gene to the gene's first piece ({@code 'ĠVWF'}); that token belongs to VWF. A token
 * made only of whitespace belongs to no gene. A token that runs from one gene into the next (impossible with a
 * space-splitting pre-tokenizer, possible without one) belongs to the gene where it starts; see {@link GeneSpan}.
 *
 * <p>Arrays are copied on the way in and out, so an instance can be shared between threads.
 */
public final class TokenizedPrompt {

  private final String prompt;
  private final int sentenceStart;
  private final int sentenceEnd;
  private final long[] ids;
  private final String[] tokens;
  private final int[] starts;
  private final int[] ends;
  private final int[] ranks;
  private final List<GeneSpan> genes;

  TokenizedPrompt(String prompt, int sentenceStart, int sentenceEnd, long[] ids, String[] tokens, int[] starts,
                  int[] ends, int[] ranks, List<GeneSpan> genes) {
    int n = ids.length;
    if (tokens.length != n || starts.length != n || ends.length != n || ranks.length != n) {
      throw new IllegalArgumentException(String.format(
          "token arrays disagree in length: ids %d, tokens %d, starts %d, ends %d, ranks %d",
          n, tokens.length, starts.length, ends.length, ranks.length));
    }
    if (sentenceStart < 0 || sentenceEnd < sentenceStart || sentenceEnd > prompt.length()) {
      throw new IllegalArgumentException(String.format(
          "cell sentence [%d, %d) lies outside the prompt of %d characters", sentenceStart, sentenceEnd,
          prompt.length()));
    }
    for (int i = 0; i < n; i++) {
      if (starts[i] < 0 || ends[i] < starts[i] || ends[i] > prompt.length()) {
        throw new IllegalArgumentException(String.format(
            "token %d (%s) has offsets [%d, %d) outside the prompt of %d characters",
            i, tokens[i], starts[i], ends[i], prompt.length()));
      }
      if (ranks[i] < -1 || ranks[i] >= genes.size()) {
        throw new IllegalArgumentException(String.format(
            "token %d (%s) has gene rank %d; the sentence has %d genes", i, tokens[i], ranks[i], genes.size()));
      }
    }
    this.prompt = prompt;
    this.sentenceStart = sentenceStart;
    this.sentenceEnd = sentenceEnd;
    this.ids = ids.clone();
    this.tokens = tokens.clone();
    this.starts = starts.clone();
    this.ends = ends.clone();
    this.ranks = ranks.clone();
    this.genes = List.copyOf(genes);
  }

  public String prompt() {
    return prompt;
  }

  /** First character of the cell sentence in the prompt. */
  public int sentenceStart() {
    return sentenceStart;
  }

  /** One past the last character of the cell sentence (the '.' that closes it is not part of it). */
  public int sentenceEnd() {
    return sentenceEnd;
  }

  /** Number of tokens. */
  public int length() {
    return ids.length;
  }

  public long id(int token) {
    return ids[token];
  }

  public long[] ids() {
    return ids.clone();
  }

  /** The token as the vocabulary spells it (byte-level symbols: {@code 'ĠVWF'}). */
  public String token(int token) {
    return tokens[token];
  }

  public String[] tokens() {
    return tokens.clone();
  }

  public int start(int token) {
    return starts[token];
  }

  public int end(int token) {
    return ends[token];
  }

  /** Character offsets as {@code [token][start, end)}. */
  public int[][] offsets() {
    int[][] out = new int[ids.length][];
    for (int i = 0; i < ids.length; i++) {
      out[i] = new int[] {starts[i], ends[i]};
    }
    return out;
  }

  /** Sentence position of the gene this token spells, or -1 for a token outside every gene. */
  public int rank(int token) {
    return ranks[token];
  }

  public int[] ranks() {
    return ranks.clone();
  }

  /** Symbol of the gene this token spells, or null for a token outside every gene. */
  public String gene(int token) {
    int r = ranks[token];
    return r < 0 ? null : genes.get(r).gene();
  }

  /** One span per gene, in sentence order: {@code genes().get(r).rank() == r}. */
  public List<GeneSpan> genes() {
    return genes;
  }

  public GeneSpan geneSpan(int rank) {
    return genes.get(rank);
  }

  @Override
  public String toString() {
    return String.format("TokenizedPrompt[%d tokens, %d genes, ids %s]", ids.length, genes.size(),
        ids.length <= 8 ? Arrays.toString(ids) : Arrays.toString(Arrays.copyOf(ids, 8)) + "...");
  }
}
