/** Attribution graphs per cell through transcoders and attention, pruning, faithfulness scores. */
package org.cellcircuits.circuits;
