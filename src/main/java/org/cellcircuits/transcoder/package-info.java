/** Sparse transcoders (and plain SAEs) per MLP layer: model, trainer, distributed training, evaluation. */
package org.cellcircuits.transcoder;
