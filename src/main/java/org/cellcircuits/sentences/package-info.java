/** Atlases in (h5ad, 10x Matrix Market, Parquet long tables), cell2sentence cell sentences and prompts out. */
package org.cellcircuits.sentences;
