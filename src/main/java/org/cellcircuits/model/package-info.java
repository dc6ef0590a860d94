/** GPT-NeoX forward pass on DJL/PyTorch with TransformerLens-named hook points, HuggingFace checkpoint loading, tokenization back to genes. */
package org.cellcircuits.model;
