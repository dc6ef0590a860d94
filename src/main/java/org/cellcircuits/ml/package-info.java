/**
 * A Spark ML API over the project's stages for notebook users: {@code Transformer}s, an {@code Estimator} and its
 * {@code Model}, with MLlib's params and persistence, each reusing the code of its CLI stage.
 */
package org.cellcircuits.ml;
