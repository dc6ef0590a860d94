package org.cellcircuits.sentences;

import java.io.IOException;
import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A hand-written fake atlas: a CSR matrix held in memory, read through the {@link AtlasReader} contract exactly
 * as a file reader is (row ranges, obs columns). Serializable, so Spark tasks open it through its
 * {@link AtlasSource} as they would open a file.
 */
final class InMemoryAtlas implements Serializable {
  private static final long serialVersionUID = 1L;

  final String name;
  final String[] cellIds;
  final List<String> geneSymbols;
  final Map<String, String[]> obs;
  final long[] indptr;
  final int[] indices;
  final double[] values;
  /** Rows whose storedPerRow the reader overstates by lieBy, to test that the build catches it. */
  int[] lieAboutStoredCountOfRows = new int[0];
  int lieBy = 1;

  InMemoryAtlas(String name, String[] cellIds, List<String> geneSymbols, Map<String, String[]> obs, long[] indptr,
                int[] indices, double[] values) {
    if (indptr.length != cellIds.length + 1 || indices.length != values.length
        || indptr[cellIds.length] != indices.length) {
      throw new IllegalArgumentException("inconsistent CSR for " + name);
    }
    this.name = name;
    this.cellIds = cellIds;
    this.geneSymbols = List.copyOf(geneSymbols);
    this.obs = new LinkedHashMap<>(obs);
    this.indptr = indptr;
    this.indices = indices;
    this.values = values;
  }

  AtlasMeta meta() {
    return new AtlasMeta(name, cellIds.length, geneSymbols, List.copyOf(obs.keySet()));
  }

  AtlasSource source() {
    return new Source(this);
  }

  private record Source(InMemoryAtlas atlas) implements AtlasSource {
    @Override
    public AtlasReader open() {
      return new Reader(atlas);
    }
  }

  private static final class Reader implements AtlasReader {
    private final InMemoryAtlas a;
    private boolean closed;

    Reader(InMemoryAtlas a) {
      this.a = a;
    }

    @Override
    public AtlasMeta meta() {
      return a.meta();
    }

    @Override
    public int[] storedPerRow(long start, long end) throws IOException {
      check(start, end);
      int[] out = new int[(int) (end - start)];
      for (long r = start; r < end; r++) {
        out[(int) (r - start)] = (int) (a.indptr[(int) r + 1] - a.indptr[(int) r]);
        for (int lie : a.lieAboutStoredCountOfRows) {
          if (lie == r) {
            out[(int) (r - start)] += a.lieBy;
          }
        }
      }
      return out;
    }

    @Override
    public CellBlock read(long start, long end) throws IOException {
      check(start, end);
      int s = (int) start;
      int e = (int) end;
      int lo = (int) a.indptr[s];
      int hi = (int) a.indptr[e];
      int[] ip = new int[e - s + 1];
      for (int r = s; r <= e; r++) {
        ip[r - s] = (int) (a.indptr[r] - lo);
      }
      Map<String, String[]> obs = new LinkedHashMap<>();
      a.obs.forEach((k, v) -> obs.put(k, Arrays.copyOfRange(v, s, e)));
      return new CellBlock(start, Arrays.copyOfRange(a.cellIds, s, e), ip, Arrays.copyOfRange(a.indices, lo, hi),
          Arrays.copyOfRange(a.values, lo, hi), obs);
    }

    private void check(long start, long end) throws IOException {
      if (closed) {
        throw new IOException(a.name + " is closed");
      }
      if (start < 0 || end > a.cellIds.length || start > end) {
        throw new IOException(String.format("%s: rows [%d, %d) are outside [0, %d)", a.name, start, end,
            a.cellIds.length));
      }
    }

    @Override
    public void close() {
      closed = true;
    }
  }
}
