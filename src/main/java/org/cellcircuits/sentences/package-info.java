/**
 * Atlases in (h5ad, 10x Matrix Market, Parquet long tables), cell2sentence cell sentences and prompts out; {@link
 * org.cellcircuits.sentences.SentencesJob} is the {@code sentences} stage's Spark work.
 */
package org.cellcircuits.sentences;
