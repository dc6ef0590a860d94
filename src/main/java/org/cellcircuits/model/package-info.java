/**
 * GPT-NeoX forward pass on DJL/PyTorch with TransformerLens-named hook points, HuggingFace checkpoint loading,
 * tokenization back to genes, cell-type prediction, and training on (prompt, answer) pairs ({@link
 * org.cellcircuits.model.AnswerTrainer}).
 */
package org.cellcircuits.model;
