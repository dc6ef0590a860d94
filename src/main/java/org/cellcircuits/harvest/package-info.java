/** Harvest of every MLP layer's input and output over an atlas, and the reader that streams them for training. */
package org.cellcircuits.harvest;
