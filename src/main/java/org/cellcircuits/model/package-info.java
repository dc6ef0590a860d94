/**
 * GPT-NeoX forward pass on DJL/PyTorch with TransformerLens-named hook points, HuggingFace checkpoint loading,
 * tokenization back to genes, cell-type prediction, and training on (prompt, answer) pairs ({@link
 * org.cellcircuits.model.AnswerTrainer}). A cell's prompt ({@link org.cellcircuits.model.CellPrompt}), its annotated
 * answer and the length batches prompts run in are the model's inputs, shared by every stage that runs the model
 * (harvest, evaluate, circuits, interpret's knockouts), so they live here, not in one stage's package.
 */
package org.cellcircuits.model;
