/**
 * Attribution graphs per cell through transcoders and attention, pruning, faithfulness scores; no Spark (the
 * {@code circuits} stage's Spark work is {@code org.cellcircuits.jobs.CircuitsJob}).
 */
package org.cellcircuits.circuits;
