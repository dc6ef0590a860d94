/**
 * Feature-to-gene interpretation, causal checks, static HTML report.
 *
 * <p>The maths of per-feature interpretation is plain Java, free of Spark, so the stage's one pass over the harvest
 * only wires it up: {@link org.cellcircuits.interpret.LayerAccumulator} takes each token's feature activations and
 * merges like a Spark combiner; {@link org.cellcircuits.interpret.FeatureSummary} turns one feature's totals into its
 * firing frequency, {@link org.cellcircuits.interpret.GeneLevelScore}, {@link
 * org.cellcircuits.interpret.CellTypeProfile} and {@link org.cellcircuits.interpret.FeatureLabel};
 * {@link org.cellcircuits.interpret.GeneSetEnrichment} tests its top genes against {@link
 * org.cellcircuits.interpret.GeneSets}; {@link org.cellcircuits.interpret.InterpretabilityTable} is the automated
 * version of the paper's human evaluation. The {@code interpret} stage's Spark work is in {@code org.cellcircuits.jobs}
 * ({@code InterpretJob}, {@code ValidationJob}, {@code ReportJob}).
 */
package org.cellcircuits.interpret;
