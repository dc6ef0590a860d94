package org.cellcircuits.model;

import java.util.List;
import java.util.Objects;

/**
 * One row of the sentences table, as the harvest reads it.
 *
 * @param cellId the cell's id
 * @param cellType its annotated cell type, or null when the atlas has none
 * @param genes the cell sentence's genes, highest expression first
 * @param prompt the full prompt, ending where the model is to answer
 */
public record CellPrompt(String cellId, String cellType, List<String> genes, String prompt) {
  public CellPrompt {
    Objects.requireNonNull(cellId, "cell_id");
    genes = List.copyOf(Objects.requireNonNull(genes, "genes"));
    Objects.requireNonNull(prompt, "prompt");
  }

  /** The prompt tokenized, its tokens mapped to its genes; a failure names the cell. */
  public TokenizedPrompt tokenize(PromptTokenizer tokenizer) {
    try {
      return tokenizer.encode(prompt, genes);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(String.format("cell %s: %s", cellId, e.getMessage()), e);
    }
  }

  /**
   * The text a C2S model is trained to continue the prompt with: cell2sentence's response template
   * {@code "{cell_type}."} joined to the prompt with one space.
   */
  public static String answer(String cellType) {
    return " " + cellType + ".";
  }
}
