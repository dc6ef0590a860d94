package org.cellcircuits.interpret;

import java.util.ArrayList;
import java.util.List;
import org.cellcircuits.model.CellPrompt;

/**
 * A cell's prompt with one gene taken out of its cell sentence, as C2S would see the cell had that gene not been
 * measured: the genes after it move up one rank, and the sentence is one gene shorter. The rest of the prompt (the
 * template's text, including the number of genes it states) is kept byte for byte, so the knockout changes nothing but
 * the sentence.
 */
public final class GeneKnockout {
  private GeneKnockout() {}

  /**
   * The cell with {@code gene} removed from its sentence.
   *
   * @throws IllegalArgumentException naming the cell when the gene is not in its sentence, or when the prompt does not
   *     hold the sentence (its genes joined by single spaces) exactly once
   */
  public static CellPrompt without(CellPrompt cell, String gene) {
    int rank = cell.genes().indexOf(gene);
    if (rank < 0) {
      throw new IllegalArgumentException(String.format("cell %s: gene %s is not in its cell sentence of %d genes",
          cell.cellId(), gene, cell.genes().size()));
    }
    String sentence = String.join(" ", cell.genes());
    int at = cell.prompt().indexOf(sentence);
    if (at < 0 || cell.prompt().indexOf(sentence, at + 1) >= 0) {
      throw new IllegalArgumentException(String.format(
          "cell %s: its prompt holds its cell sentence (%d genes joined by spaces) %s; a knockout needs it exactly once",
          cell.cellId(), cell.genes().size(), at < 0 ? "nowhere" : "more than once"));
    }
    List<String> kept = new ArrayList<>(cell.genes());
    kept.remove(rank);
    String prompt = cell.prompt().substring(0, at) + String.join(" ", kept)
        + cell.prompt().substring(at + sentence.length());
    return new CellPrompt(cell.cellId(), cell.cellType(), kept, prompt);
  }
}
