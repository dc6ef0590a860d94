package org.cellcircuits.sentences;

import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.Node;
import io.jhdf.exceptions.HdfException;

import java.io.IOException;
import java.lang.reflect.Array;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads an AnnData {@code .h5ad} file with jhdf (pure-Java HDF5), row range by row range.
 *
 * <p>The count matrix is {@code X} (or {@code raw/X} with {@link AtlasOptions#useRaw()}) in one of three layouts:
 * <ul>
 *   <li><b>CSR group</b> ({@code encoding-type=csr_matrix}, or the older {@code h5sparse_format=csr}):
 *       {@code data}, {@code indices}, {@code indptr} and a {@code shape} attribute. A row range reads only
 *       {@code indptr[start..end]} and then that slice of {@code data} and {@code indices}, so each task reads
 *       just its own bytes. {@link #storedPerRow} reads only {@code indptr}.
 *   <li><b>Dense</b> 2-D dataset: the rows of the range are read as a slab; zeros are dropped.
 *   <li><b>CSC group</b>: column-major, so any row range needs every column. The whole matrix is read and turned
 *       into CSR once per executor JVM (shared by its tasks through {@link ParsedAtlasCache}); memory is the
 *       full matrix. Convert big CSC files to CSR ({@code adata.X = adata.X.tocsr()}) first.
 * </ul>
 * Entries come out as scipy's {@code csr_matrix(adata.X)} holds them (see {@link AtlasReader}). Element types
 * float32/64, (u)int8..64 are widened to double.
 *
 * <p>Cells are {@code obs} rows (ids from the obs index); genes are {@code var} rows, named by the var index or
 * by {@link AtlasOptions#geneSymbolColumn()}. Not thread-safe: each task opens its own reader.
 */
public final class H5adReader implements AtlasReader {
  /** Dense slabs are read at most this many elements at a time, to bound memory for wide dense matrices. */
  private static final int DENSE_SLAB_ELEMENTS = 1 << 22;

  private final HdfFile hdf;
  private final String source;
  private final AtlasMeta meta;
  private final H5adFrame obs;
  private final List<String> requestedObs;
  private final String matrixPath;
  private final Matrix matrix;

  private H5adReader(HdfFile hdf, String source, String cacheKey, AtlasOptions options) throws AtlasFormatException {
    this.hdf = hdf;
    this.source = source;
    this.matrixPath = options.useRaw() ? "raw/X" : "X";
    String varPath = options.useRaw() ? "raw/var" : "var";

    Node x = child(hdf, matrixPath);
    if (x == null) {
      throw AtlasFormatException.of(source, matrixPath,
          String.format("not found (top-level entries: %s)", hdf.getChildren().keySet()),
          options.useRaw() ? "raw/X, because use-raw is set"
              : "the count matrix X as a CSR/CSC group or a 2-D dataset");
    }
    long[] shape = shapeOf(x);
    long nCells = shape[0];
    long nGenes = shape[1];
    if (nCells == 0 || nGenes == 0) {
      throw AtlasFormatException.of(source, matrixPath,
          String.format("the atlas is empty: %d cells x %d genes", nCells, nGenes), "at least one cell and one gene");
    }
    if (nGenes > Integer.MAX_VALUE) {
      throw AtlasFormatException.of(source, matrixPath, nGenes + " genes", "at most 2^31-1 genes");
    }

    H5adFrame var = new H5adFrame(hdf, source, varPath);
    if (var.rows() != nGenes) {
      throw AtlasFormatException.of(source, varPath, String.format("has %d rows", var.rows()),
          String.format("one row per gene: %d, the number of columns of %s", nGenes, matrixPath));
    }
    this.obs = new H5adFrame(hdf, source, "obs");
    if (obs.rows() != nCells) {
      throw AtlasFormatException.of(source, "obs", String.format("has %d rows", obs.rows()),
          String.format("one row per cell: %d, the number of rows of %s", nCells, matrixPath));
    }
    List<String> genes = geneSymbols(var, varPath, (int) nGenes, options.geneSymbolColumn());
    for (String c : options.obsColumns()) {
      obs.requireColumn(c, "obs");
    }
    this.requestedObs = options.obsColumns();
    this.meta = new AtlasMeta(source, nCells, genes, obs.columns());
    this.matrix = openMatrix(x, nCells, (int) nGenes, cacheKey);
  }

  /** Opens a local .h5ad file. */
  public static H5adReader open(Path file, AtlasOptions options) throws IOException {
    String source = file.toString();
    if (!Files.exists(file)) {
      throw AtlasFormatException.of(source, "file", "does not exist", "an .h5ad file");
    }
    if (Files.isDirectory(file)) {
      throw AtlasFormatException.of(source, "file", "is a folder", "an .h5ad file");
    }
    String key = "h5ad|" + file.toAbsolutePath() + "|" + Files.size(file) + "|" + Files.getLastModifiedTime(file);
    return open(unmapped(file, source), source, key, options);
  }

  /**
   * Opens a local HDF5 file for reads through a channel, never memory-mapped. jhdf maps every chunk it reads
   * ({@code FileChannel.map}) and a mapping lives until its buffer is garbage-collected: reading a chunked atlas in a
   * JVM with a large, rarely collected heap piles up mappings past the kernel's per-process limit
   * ({@code vm.max_map_count}, 65,530), and the JVM dies ("Failed to uncommit metaspace"; one test JVM held 64,739
   * mappings of one chunked .h5ad). Through a plain {@code SeekableByteChannel} jhdf reads into heap buffers instead.
   */
  static HdfFile unmapped(Path file, String source) throws IOException {
    return overChannel(Files.newByteChannel(file, java.nio.file.StandardOpenOption.READ), file.toUri(), source);
  }

  /** An HDF5 file read through {@code channel}; the channel is closed when it does not hold one. */
  static HdfFile overChannel(java.nio.channels.SeekableByteChannel channel, java.net.URI uri, String source)
      throws IOException {
    try {
      return openHdf(() -> new HdfFile(channel, uri), source);
    } catch (AtlasFormatException | RuntimeException e) {
      try {
        channel.close();
      } catch (IOException closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
  }

  /**
   * Wraps an opened HDF5 file; closes it if the file is not a readable atlas.
   *
   * @param source   what error messages call the file (the user's path, also for staged copies)
   * @param cacheKey identifies the file's content (path, length, modification time) for the CSC cache
   */
  static H5adReader open(HdfFile hdf, String source, String cacheKey, AtlasOptions options)
      throws AtlasFormatException {
    try {
      return new H5adReader(hdf, source, cacheKey, options);
    } catch (AtlasFormatException | RuntimeException e) {
      hdf.close();
      if (e instanceof HdfException he) {
        throw new AtlasFormatException(
            String.format("atlas %s: cannot read its HDF5 structure (%s); expected an .h5ad written by AnnData",
                source, he.getMessage()), he);
      }
      throw e;
    }
  }

  interface HdfOpener {
    HdfFile open();
  }

  /** jhdf's own error for a file without the HDF5 signature, turned into one that names the file. */
  static HdfFile openHdf(HdfOpener opener, String source) throws AtlasFormatException {
    try {
      return opener.open();
    } catch (HdfException e) {
      throw AtlasFormatException.of(source, "file", "is not an HDF5 file (" + e.getMessage() + ")",
          "an .h5ad (HDF5) file written by AnnData");
    }
  }

  @Override
  public AtlasMeta meta() {
    return meta;
  }

  @Override
  public int[] storedPerRow(long start, long end) throws IOException {
    BlockChecks.checkRange(source, start, end, meta.nCells());
    return wrap(() -> matrix.storedPerRow(start, end));
  }

  @Override
  public CellBlock read(long start, long end) throws IOException {
    BlockChecks.checkRange(source, start, end, meta.nCells());
    return wrap(() -> {
      int n = Math.toIntExact(end - start);
      CsrRows.Block b = matrix.read(start, end);
      String[] ids = obs.index(start, n);
      BlockChecks.checkEntries(source, matrixPath, start, ids, b.indptr(), b.indices(), b.values(),
          meta.geneSymbols());
      Map<String, String[]> cols = new LinkedHashMap<>();
      for (String c : requestedObs) {
        cols.put(c, obs.column(c, start, n));
      }
      return new CellBlock(start, ids, b.indptr(), b.indices(), b.values(), cols);
    });
  }

  @Override
  public void close() {
    hdf.close();
  }

  // ------------------------------------------------------------------------------------------------ structure

  /** The node at a slash path under root, or null if any part is missing. */
  static Node child(Group root, String path) {
    Node node = root;
    for (String part : path.split("/")) {
      if (!(node instanceof Group g)) {
        return null;
      }
      node = g.getChildren().get(part);
      if (node == null) {
        return null;
      }
    }
    return node;
  }

  private long[] shapeOf(Node x) throws AtlasFormatException {
    if (x instanceof Dataset d) {
      long[] dims = d.getDimensionsAsLong();
      if (dims.length != 2) {
        throw AtlasFormatException.of(source, matrixPath, "is a dataset of shape " + Arrays.toString(dims),
            "a 2-D cells x genes dataset or a sparse group");
      }
      return dims;
    }
    long[] shape = H5adArrays.longsAttr(x, "shape");
    if (shape == null) {
      shape = H5adArrays.longsAttr(x, "h5sparse_shape");
    }
    if (shape == null || shape.length != 2) {
      throw AtlasFormatException.of(source, matrixPath, "is a group without a 2-element shape attribute",
          "a sparse matrix group with attribute shape = (cells, genes)");
    }
    return shape;
  }

  private String sparseFormat(Group g) throws AtlasFormatException {
    String enc = H5adArrays.stringAttr(g, "encoding-type");
    if ("csr_matrix".equals(enc) || "csc_matrix".equals(enc)) {
      return enc.substring(0, 3);
    }
    String legacy = H5adArrays.stringAttr(g, "h5sparse_format");
    if ("csr".equals(legacy) || "csc".equals(legacy)) {
      return legacy;
    }
    throw AtlasFormatException.of(source, matrixPath + " encoding-type",
        String.format("is '%s'", enc != null ? enc : legacy), "csr_matrix or csc_matrix");
  }

  private List<String> geneSymbols(H5adFrame var, String varPath, int nGenes, String column)
      throws AtlasFormatException {
    String[] symbols;
    if (column == null) {
      symbols = var.index(0, nGenes);
    } else {
      var.requireColumn(column, "gene symbol");
      symbols = var.column(column, 0, nGenes);
    }
    for (int j = 0; j < symbols.length; j++) {
      if (symbols[j] == null || symbols[j].isEmpty()) {
        throw AtlasFormatException.of(source, varPath + "/" + (column == null ? "index" : column),
            String.format("gene %d has no symbol", j), "a symbol for every gene");
      }
    }
    return new ArrayList<>(Arrays.asList(symbols));
  }

  private Matrix openMatrix(Node x, long nCells, int nGenes, String cacheKey) throws AtlasFormatException {
    if (x instanceof Dataset d) {
      return new Dense(d, nGenes);
    }
    Group g = (Group) x;
    String format = sparseFormat(g);
    Dataset data = part(g, "data");
    Dataset indices = part(g, "indices");
    Dataset indptr = part(g, "indptr");
    long nnz = H5adArrays.length(data);
    if (H5adArrays.length(indices) != nnz) {
      throw AtlasFormatException.of(source, matrixPath + "/indices",
          String.format("has %d entries but data has %d", H5adArrays.length(indices), nnz),
          "one column index per stored value");
    }
    long major = format.equals("csr") ? nCells : nGenes;
    if (H5adArrays.length(indptr) != major + 1) {
      throw AtlasFormatException.of(source, matrixPath + "/indptr",
          String.format("has %d entries", H5adArrays.length(indptr)),
          String.format("%d (%s + 1) for a %s matrix", major + 1, format.equals("csr") ? "cells" : "genes",
              format.toUpperCase()));
    }
    long first = H5adArrays.longs(H5adArrays.slice(indptr, 0, 1))[0];
    long last = H5adArrays.longs(H5adArrays.slice(indptr, major, 1))[0];
    if (first != 0 || last != nnz) {
      throw AtlasFormatException.of(source, matrixPath + "/indptr",
          String.format("runs from %d to %d", first, last),
          String.format("offsets from 0 to %d, the number of stored entries", nnz));
    }
    if (format.equals("csr")) {
      return new Csr(data, indices, indptr, nnz);
    }
    return new Csc(data, indices, indptr, nnz, (int) nCells, nGenes, cacheKey + "|" + matrixPath);
  }

  private Dataset part(Group g, String name) throws AtlasFormatException {
    Node n = g.getChildren().get(name);
    if (!(n instanceof Dataset d)) {
      throw AtlasFormatException.of(source, matrixPath + "/" + name, "not found",
          "data, indices and indptr datasets in a sparse matrix group");
    }
    return d;
  }

  // ------------------------------------------------------------------------------------------------ layouts

  private interface Matrix {
    int[] storedPerRow(long start, long end) throws AtlasFormatException;

    CsrRows.Block read(long start, long end) throws AtlasFormatException;
  }

  private final class Csr implements Matrix {
    private final Dataset data;
    private final Dataset indices;
    private final Dataset indptr;
    private final long nnz;
    /** Direct chunk reads of data and indices where their layout allows (null: jhdf's slice read). */
    private final ChunkSlices dataChunks;
    private final ChunkSlices indexChunks;

    Csr(Dataset data, Dataset indices, Dataset indptr, long nnz) {
      this.data = data;
      this.indices = indices;
      this.indptr = indptr;
      this.nnz = nnz;
      ChunkSlices d = ChunkSlices.of(data);
      ChunkSlices i = ChunkSlices.of(indices);
      this.dataChunks = d == null || d.holdsInts() ? null : d;
      this.indexChunks = i == null || !i.holdsInts() ? null : i;
    }

    private long[] offsets(long start, long end) throws AtlasFormatException {
      long[] ptr = H5adArrays.longs(H5adArrays.slice(indptr, start, Math.toIntExact(end - start + 1)));
      BlockChecks.checkOffsets(source, matrixPath + "/indptr", start, ptr, nnz);
      return ptr;
    }

    @Override
    public int[] storedPerRow(long start, long end) throws AtlasFormatException {
      long[] ptr = offsets(start, end);
      int[] out = new int[ptr.length - 1];
      for (int i = 0; i < out.length; i++) {
        out[i] = Math.toIntExact(ptr[i + 1] - ptr[i]);
      }
      return out;
    }

    @Override
    public CsrRows.Block read(long start, long end) throws AtlasFormatException {
      long[] ptr = offsets(start, end);
      long lo = ptr[0];
      long count = ptr[ptr.length - 1] - lo;
      if (count > Integer.MAX_VALUE - 8) {
        throw AtlasFormatException.of(source, matrixPath,
            String.format("rows [%d, %d) hold %d stored entries", start, end, count),
            "fewer than 2^31 entries per row range; read smaller ranges");
      }
      int n = (int) count;
      int[] idx = indexChunks != null ? indexChunks.ints(lo, n) : H5adArrays.ints(H5adArrays.slice(indices, lo, n));
      double[] val = dataChunks != null ? dataChunks.doubles(lo, n) : H5adArrays.doubles(H5adArrays.slice(data, lo, n));
      int[] rebased = new int[ptr.length];
      for (int i = 0; i < ptr.length; i++) {
        rebased[i] = (int) (ptr[i] - lo);
      }
      return new CsrRows.Block(rebased, idx, val);
    }
  }

  private final class Dense implements Matrix {
    private final Dataset x;
    private final int nGenes;

    Dense(Dataset x, int nGenes) {
      this.x = x;
      this.nGenes = nGenes;
    }

    /** Calls back with each row's values, reading slabs of rows that fit DENSE_SLAB_ELEMENTS. */
    private void forEachRow(long start, long end, RowVisitor visitor) throws AtlasFormatException {
      int slabRows = Math.max(1, DENSE_SLAB_ELEMENTS / nGenes);
      for (long r0 = start; r0 < end; r0 += slabRows) {
        int rows = (int) Math.min(slabRows, end - r0);
        Object slab = x.getData(new long[] {r0, 0}, new int[] {rows, nGenes});
        for (int i = 0; i < rows; i++) {
          visitor.row(r0 + i, H5adArrays.doubles(Array.get(slab, i)));
        }
      }
    }

    @Override
    public int[] storedPerRow(long start, long end) throws AtlasFormatException {
      int[] out = new int[Math.toIntExact(end - start)];
      forEachRow(start, end, (row, v) -> {
        int k = 0;
        for (double d : v) {
          if (d != 0) {
            k++;
          }
        }
        out[(int) (row - start)] = k;
      });
      return out;
    }

    @Override
    public CsrRows.Block read(long start, long end) throws AtlasFormatException {
      int rows = Math.toIntExact(end - start);
      int[] ptr = new int[rows + 1];
      IntList idx = new IntList();
      DoubleList val = new DoubleList();
      forEachRow(start, end, (row, v) -> {
        for (int j = 0; j < v.length; j++) {
          if (v[j] != 0) { // NaN != 0, so NaN is kept and then refused by the count check
            idx.add(j);
            val.add(v[j]);
          }
        }
        ptr[(int) (row - start) + 1] = idx.size();
      });
      return new CsrRows.Block(ptr, idx.toArray(), val.toArray());
    }
  }

  private interface RowVisitor {
    void row(long row, double[] values);
  }

  private final class Csc implements Matrix {
    private final Dataset data;
    private final Dataset indices;
    private final Dataset indptr;
    private final long nnz;
    private final int nCells;
    private final int nGenes;
    private final String cacheKey;

    Csc(Dataset data, Dataset indices, Dataset indptr, long nnz, int nCells, int nGenes, String cacheKey) {
      this.data = data;
      this.indices = indices;
      this.indptr = indptr;
      this.nnz = nnz;
      this.nCells = nCells;
      this.nGenes = nGenes;
      this.cacheKey = cacheKey;
    }

    private CsrRows rows() throws AtlasFormatException {
      try {
        return ParsedAtlasCache.get("csc|" + cacheKey, this::transpose);
      } catch (AtlasFormatException e) {
        throw e;
      } catch (IOException e) {
        throw new AtlasFormatException("atlas " + source + ": " + e.getMessage(), e);
      }
    }

    private CsrRows transpose() throws AtlasFormatException {
      if (nnz > Integer.MAX_VALUE - 8) {
        throw AtlasFormatException.of(source, matrixPath, nnz + " stored entries in a CSC matrix",
            "fewer than 2^31 entries for CSC input; convert X to CSR");
      }
      int n = (int) nnz;
      long[] colPtr = H5adArrays.longs(H5adArrays.slice(indptr, 0, nGenes + 1));
      BlockChecks.checkOffsets(source, matrixPath + "/indptr", 0, colPtr, nnz);
      int[] rowIdx = H5adArrays.ints(H5adArrays.slice(indices, 0, n));
      for (int k = 0; k < n; k++) {
        if (rowIdx[k] < 0 || rowIdx[k] >= nCells) {
          int col = columnOf(colPtr, k);
          throw AtlasFormatException.of(source, matrixPath + "/indices",
              String.format("gene column %d stores row %d", col, rowIdx[k]),
              String.format("a cell row in [0, %d)", nCells));
        }
      }
      double[] vals = H5adArrays.doubles(H5adArrays.slice(data, 0, n));
      return CsrRows.fromCsc(nCells, nGenes, colPtr, rowIdx, vals);
    }

    @Override
    public int[] storedPerRow(long start, long end) throws AtlasFormatException {
      return rows().storedPerRow((int) start, (int) end);
    }

    @Override
    public CsrRows.Block read(long start, long end) throws AtlasFormatException {
      return rows().slice((int) start, (int) end);
    }
  }

  private static int columnOf(long[] colPtr, long k) {
    int c = 0;
    while (c + 1 < colPtr.length && colPtr[c + 1] <= k) {
      c++;
    }
    return c;
  }

  private interface Body<T> {
    T get() throws AtlasFormatException;
  }

  /** jhdf reports read problems as unchecked HdfExceptions; name the file in them. */
  private <T> T wrap(Body<T> body) throws AtlasFormatException {
    try {
      return body.get();
    } catch (HdfException e) {
      throw new AtlasFormatException(String.format("atlas %s: reading %s failed: %s", source, matrixPath,
          e.getMessage()), e);
    }
  }
}
