package org.cellcircuits.sentences;

import java.util.Map;

/**
 * A block of consecutive cells in CSR form.
 *
 * @param firstRow   index of the block's first cell in the atlas
 * @param cellIds    one id per row (obs index)
 * @param indptr     length rows+1, starting at 0; row r's entries are [indptr[r], indptr[r+1])
 * @param indices    gene column of each stored entry
 * @param values     count of each stored entry
 * @param obs        requested annotation columns, each with one string per row (null where missing)
 */
public record CellBlock(long firstRow, String[] cellIds, int[] indptr, int[] indices, double[] values,
                        Map<String, String[]> obs) {
  public int rows() {
    return cellIds.length;
  }
}
