package org.cellcircuits.harvest;

/**
 * The model's answer for one cell: one row of the {@code predictions} table.
 *
 * @param cellId the cell
 * @param cellType its annotated cell type, or null
 * @param predictedCellType the greedy answer, up to the stop ('.', newline, end of text)
 * @param predictedLogProb log-probability of the greedy answer's tokens, stop token included
 * @param annotatedLogProb log P(" {cell_type}." | prompt), or NaN without an annotation
 * @param correct predicted equals annotated (null without an annotation)
 * @param answerComplete decoding stopped before running out of max-new-tokens
 * @param promptTokens tokens of the prompt
 */
public record CellPrediction(String cellId, String cellType, String predictedCellType, double predictedLogProb,
    double annotatedLogProb, Boolean correct, boolean answerComplete, int promptTokens) {}
