package org.cellcircuits.sentences;

import java.util.List;

/**
 * One cell's sentence.
 *
 * @param genes      gene symbols, highest expression first, at most top K
 * @param sentence   the genes joined by single spaces
 * @param nExpressed number of kept genes with a count &gt; 0 in the cell (all of them, not only the top K)
 */
public record CellSentence(List<String> genes, String sentence, int nExpressed) {
  public CellSentence {
    genes = List.copyOf(genes);
  }
}
