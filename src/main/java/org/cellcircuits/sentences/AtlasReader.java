package org.cellcircuits.sentences;

import java.io.Closeable;
import java.io.IOException;

/**
 * A cells-by-genes count matrix with its cell and gene annotations, read in row ranges so that Spark tasks can
 * each read their own slice of one file.
 *
 * <p>Contract shared by every format (h5ad, 10x Matrix Market, Parquet long table):
 * <ul>
 *   <li>Rows are cells in file order; columns are genes in file order (the order cell2sentence sees).
 *   <li>{@link #read} returns the row's <em>stored</em> entries as scipy's {@code csr_matrix(adata.X)} would hold
 *       them: for a CSR file, in the file's in-row order with any explicitly stored zeros kept; for CSC input,
 *       ascending column order with the CSC file's explicitly stored zeros kept (scipy's CSC-to-CSR conversion
 *       keeps them); for dense input, ascending column order with zeros omitted. cell2sentence's random tie-break
 *       draws depend on exactly this count and order. A stored zero still ranks last in C2S's sentence; dropping
 *       it is the sentence builder's job, after the tie-break draws.
 *   <li>Formats without a scipy reading of their own follow their readers' javadoc: 10x Matrix Market as scanpy
 *       holds it (ascending columns, written zeros kept), Parquet long tables one stored entry per table row.
 *   <li>Values are widened to double (exact for float32 and for integer counts).
 * </ul>
 */
public interface AtlasReader extends Closeable {

  /** Shape, gene symbols and cell annotation columns. */
  AtlasMeta meta();

  /** Number of stored entries of each row in [start, end): the pre-pass over the random tie-break needs only this. */
  int[] storedPerRow(long start, long end) throws IOException;

  /** Rows [start, end) as a CSR block, with the requested obs columns for those rows. */
  CellBlock read(long start, long end) throws IOException;
}
