/** Feature-to-gene interpretation, causal checks, static HTML report. */
package org.cellcircuits.interpret;
