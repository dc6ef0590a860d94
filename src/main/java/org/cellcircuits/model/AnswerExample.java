package org.cellcircuits.model;

import java.util.Objects;

/**
 * One training or evaluation example: a prompt, the answer text the model learns to continue it with, and the
 * label that greedy decoding of that answer yields (what {@link Prediction#answer()} must equal to count as right).
 *
 * @param id stable identifier (a cell id), used to report and reproduce the held-out split
 * @param prompt the text the model reads
 * @param answer the text right after the prompt, tokenized on its own as cell2sentence does (C2S: " {cell type}.")
 * @param label the expected decoded answer (C2S: the cell type)
 */
public record AnswerExample(String id, String prompt, String answer, String label) {

    public AnswerExample {
        Objects.requireNonNull(id, "id");
        if (prompt == null || prompt.isEmpty()) {
            throw new IllegalArgumentException(String.format("example %s has an empty prompt", id));
        }
        if (answer == null || answer.isEmpty()) {
            throw new IllegalArgumentException(String.format("example %s has an empty answer", id));
        }
        if (label == null || label.isBlank()) {
            throw new IllegalArgumentException(String.format("example %s has a blank label", id));
        }
    }

    /**
     * A C2S cell-type example: the answer is {@code " " + cellType + "."} (cell2sentence's response template
     * {@code "{cell_type}."} after the one space its formatter puts between prompt and response), and greedy
     * decoding that stops at '.' yields the cell type.
     */
    public static AnswerExample cellType(String cellId, String prompt, String cellType) {
        return new AnswerExample(cellId, prompt, " " + cellType + ".", cellType);
    }
}
