package org.cellcircuits.model;

/**
 * Where one gene of a cell sentence sits in the prompt's characters and in its tokens.
 *
 * <p>{@code firstToken..lastToken} (inclusive) are the tokens whose character span overlaps the gene's characters.
 * With a byte-level BPE whose pre-tokenizer splits at spaces (GPT-NeoX, Pythia) these are exactly the tokens that
 * {@link TokenizedPrompt#rank(int)} assigns to this gene, and {@link #exclusive()} is true. A tokenizer that merges
 * across spaces can make one token cover the end of one gene and the start of the next (or template text and a gene);
 * such a token is assigned to the gene of its first non-space character only, so the later gene's span still lists
 * it but does not own it, and {@code exclusive} is false.
 *
 * @param gene       the gene symbol as written in the sentence
 * @param rank       0-based position of the gene in the cell sentence (0 = highest expression)
 * @param charStart  first character of the symbol in the prompt (UTF-16 index, as {@link String#charAt})
 * @param charEnd    one past the symbol's last character
 * @param firstToken index of the first token overlapping the symbol
 * @param lastToken  index of the last token overlapping the symbol (inclusive)
 * @param exclusive  whether every token in {@code firstToken..lastToken} is assigned to this gene alone
 */
public record GeneSpan(String gene, int rank, int charStart, int charEnd, int firstToken, int lastToken,
                       boolean exclusive) {

  public GeneSpan {
    if (gene == null || gene.isEmpty()) {
      throw new IllegalArgumentException(String.format("gene at rank %d has an empty symbol", rank));
    }
    if (rank < 0) {
      throw new IllegalArgumentException(String.format("gene %s has rank %d; ranks start at 0", gene, rank));
    }
    if (charStart < 0 || charEnd - charStart != gene.length()) {
      throw new IllegalArgumentException(String.format(
          "gene %s (rank %d) spans characters [%d, %d), which is not the length of its symbol (%d)",
          gene, rank, charStart, charEnd, gene.length()));
    }
    if (firstToken < 0 || lastToken < firstToken) {
      throw new IllegalArgumentException(String.format(
          "gene %s (rank %d) has token range [%d, %d]; need 0 <= first <= last", gene, rank, firstToken, lastToken));
    }
  }

  /** Number of tokens that overlap the symbol (1 for a symbol the vocabulary holds whole). */
  public int tokenCount() {
    return lastToken - firstToken + 1;
  }
}
