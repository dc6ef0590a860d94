/**
 * The interpret stage's static HTML report (issue 14): plain records in, HTML files out, no Spark. {@link
 * org.cellcircuits.report.TypeCircuitBuilder} aggregates a cell type's traced circuits into one graph, {@link
 * org.cellcircuits.report.HtmlReport} writes the pages; {@code org.cellcircuits.jobs.ReportJob} reads the tables
 * with Spark and calls both.
 */
package org.cellcircuits.report;
