/** The optimiser both trainers share: AdamW over NDArrays, which is Adam when its weight decay is 0. */
package org.cellcircuits.optim;
