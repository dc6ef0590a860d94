/**
 * How faithful transcoders are on cells they never saw: losses of the original, transcoder-replaced and MLP-less
 * model, KL, per-layer reconstruction and sparsity, and cell-type accuracy, over the held-out cells ({@link
 * org.cellcircuits.evaluate.EvaluateJob}, the {@code evaluate} stage's Spark work).
 */
package org.cellcircuits.evaluate;
