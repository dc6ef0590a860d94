package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An atlas parsed whole into memory (10x folders, Parquet long tables): serves row ranges from its CSR arrays.
 * Immutable, so one instance can be shared by all the tasks of an executor (see {@link ParsedAtlasCache}).
 */
final class LoadedAtlas implements AtlasReader {
  private final AtlasMeta meta;
  private final String matrixField;
  private final CsrRows matrix;
  private final String[] cellIds;
  private final Map<String, String[]> obs;

  /**
   * @param matrixField name of the matrix in error messages (e.g. "matrix.mtx")
   * @param obs         the requested obs columns, one value per cell
   */
  LoadedAtlas(AtlasMeta meta, String matrixField, CsrRows matrix, String[] cellIds, Map<String, String[]> obs)
      throws AtlasFormatException {
    this.meta = meta;
    this.matrixField = matrixField;
    this.matrix = matrix;
    this.cellIds = cellIds;
    this.obs = new LinkedHashMap<>(obs);
    if (cellIds.length == 0 || meta.nGenes() == 0) {
      throw AtlasFormatException.of(meta.source(), matrixField,
          String.format("the atlas has %d cells and %d genes", cellIds.length, meta.nGenes()),
          "at least one cell and one gene");
    }
    BlockChecks.checkOffsets(meta.source(), matrixField + " row offsets", 0, matrix.indptr(), matrix.indices().length);
  }

  @Override
  public AtlasMeta meta() {
    return meta;
  }

  @Override
  public int[] storedPerRow(long start, long end) {
    BlockChecks.checkRange(meta.source(), start, end, meta.nCells());
    return matrix.storedPerRow((int) start, (int) end);
  }

  @Override
  public CellBlock read(long start, long end) throws IOException {
    BlockChecks.checkRange(meta.source(), start, end, meta.nCells());
    int s = (int) start;
    int e = (int) end;
    CsrRows.Block b = matrix.slice(s, e);
    String[] ids = Arrays.copyOfRange(cellIds, s, e);
    BlockChecks.checkEntries(meta.source(), matrixField, start, ids, b.indptr(), b.indices(), b.values(),
        meta.geneSymbols());
    Map<String, String[]> cols = new LinkedHashMap<>();
    for (Map.Entry<String, String[]> c : obs.entrySet()) {
      cols.put(c.getKey(), Arrays.copyOfRange(c.getValue(), s, e));
    }
    return new CellBlock(start, ids, b.indptr(), b.indices(), b.values(), cols);
  }

  /** The whole matrix, for tests and for readers that wrap this one. */
  CsrRows matrix() {
    return matrix;
  }

  List<String> requestedObs() {
    return List.copyOf(obs.keySet());
  }

  @Override
  public void close() {
    // nothing to release: the arrays may be shared with other readers through the cache
  }
}
