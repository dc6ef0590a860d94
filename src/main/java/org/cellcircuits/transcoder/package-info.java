/**
 * Sparse transcoders (and plain SAEs) per MLP layer: model, trainer, distributed training ({@link
 * org.cellcircuits.transcoder.TrainJob}, the {@code train} stage's Spark work), evaluation.
 */
package org.cellcircuits.transcoder;
