package org.cellcircuits.sentences;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fixtures made by src/test/resources/atlas/make_fixtures.py and what they must read as
 * ({@code <name>.expected.json}, computed there by anndata + scipy).
 */
final class AtlasFixtures {
  private AtlasFixtures() {
  }

  static Path path(String name) {
    try {
      return Path.of(AtlasFixtures.class.getResource("/atlas/" + name).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new IllegalStateException("missing test fixture atlas/" + name, e);
    }
  }

  static JsonObject expected(String name) throws IOException {
    try (Reader r = Files.newBufferedReader(path(name + ".expected.json"))) {
      return JsonParser.parseReader(r).getAsJsonObject();
    }
  }

  static List<String> strings(JsonElement array) {
    List<String> out = new ArrayList<>();
    for (JsonElement e : array.getAsJsonArray()) {
      out.add(e.isJsonNull() ? null : e.getAsString());
    }
    return out;
  }

  static int[] ints(JsonElement array) {
    JsonArray a = array.getAsJsonArray();
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsInt();
    }
    return out;
  }

  static double[] doubles(JsonElement array) {
    JsonArray a = array.getAsJsonArray();
    double[] out = new double[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsDouble();
    }
    return out;
  }

  /** A whole matrix in CSR form, for comparing reads with each other and with expected.json. */
  record Csr(List<String> cellIds, int[] indptr, int[] indices, double[] values, Map<String, List<String>> obs) {
    static Csr expected(JsonObject matrixParent, List<String> cellIds) {
      JsonObject x = matrixParent.getAsJsonObject("X");
      return new Csr(cellIds, ints(x.get("indptr")), ints(x.get("indices")), doubles(x.get("data")), Map.of());
    }

    /** Entries of each row sorted by column: formats that cannot keep a file's in-row order compare this way. */
    Csr canonical() {
      int[] idx = indices.clone();
      double[] val = values.clone();
      for (int r = 0; r + 1 < indptr.length; r++) {
        int lo = indptr[r];
        int hi = indptr[r + 1];
        Integer[] order = new Integer[hi - lo];
        for (int k = 0; k < order.length; k++) {
          order[k] = lo + k;
        }
        Arrays.sort(order, (a, b) -> Integer.compare(indices[a], indices[b]));
        for (int k = 0; k < order.length; k++) {
          idx[lo + k] = indices[order[k]];
          val[lo + k] = values[order[k]];
        }
      }
      return new Csr(cellIds, indptr, idx, val, obs);
    }

    /** Columns renamed through a gene-symbol mapping (Parquet sorts its genes by symbol). */
    Csr remapColumns(List<String> fromGenes, List<String> toGenes) {
      Map<String, Integer> to = new LinkedHashMap<>();
      for (int j = 0; j < toGenes.size(); j++) {
        to.put(toGenes.get(j), j);
      }
      int[] idx = new int[indices.length];
      for (int k = 0; k < idx.length; k++) {
        idx[k] = to.get(fromGenes.get(indices[k]));
      }
      return new Csr(cellIds, indptr, idx, values, obs).canonical();
    }
  }

  /** Reads [0, nCells) as the given consecutive ranges and glues the blocks back together. */
  static Csr readInRanges(AtlasReader reader, long... boundaries) throws IOException {
    List<String> ids = new ArrayList<>();
    List<Integer> ptr = new ArrayList<>(List.of(0));
    List<Integer> idx = new ArrayList<>();
    List<Double> val = new ArrayList<>();
    Map<String, List<String>> obs = new LinkedHashMap<>();
    for (int i = 0; i + 1 < boundaries.length; i++) {
      CellBlock b = reader.read(boundaries[i], boundaries[i + 1]);
      if (b.firstRow() != boundaries[i] || b.rows() != boundaries[i + 1] - boundaries[i]) {
        throw new AssertionError("block of rows [" + boundaries[i] + ", " + boundaries[i + 1] + ") came back as "
            + b.rows() + " rows from " + b.firstRow());
      }
      if (b.indptr()[0] != 0 || b.indptr().length != b.rows() + 1) {
        throw new AssertionError("block offsets must start at 0 and have rows+1 entries");
      }
      int base = idx.size();
      ids.addAll(List.of(b.cellIds()));
      for (int r = 1; r < b.indptr().length; r++) {
        ptr.add(base + b.indptr()[r]);
      }
      for (int k = 0; k < b.indptr()[b.rows()]; k++) {
        idx.add(b.indices()[k]);
        val.add(b.values()[k]);
      }
      for (Map.Entry<String, String[]> e : b.obs().entrySet()) {
        obs.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).addAll(Arrays.asList(e.getValue()));
      }
    }
    return new Csr(ids, ptr.stream().mapToInt(Integer::intValue).toArray(),
        idx.stream().mapToInt(Integer::intValue).toArray(), val.stream().mapToDouble(Double::doubleValue).toArray(),
        obs);
  }

  static Csr readAll(AtlasReader reader) throws IOException {
    return readInRanges(reader, 0, reader.meta().nCells());
  }
}
