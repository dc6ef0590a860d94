/**
 * Harvest of every MLP layer's input and output over an atlas ({@link org.cellcircuits.harvest.HarvestJob}, the
 * {@code harvest} stage's Spark work), and the reader that streams them for training.
 */
package org.cellcircuits.harvest;
