package org.cellcircuits.sentences;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cellcircuits.runtime.HadoopFiles;

/**
 * Reads a 10x Genomics Matrix Market folder (Cell Ranger output): {@code matrix.mtx[.gz]},
 * {@code features.tsv[.gz]} (v3) or {@code genes.tsv[.gz]} (v2), {@code barcodes.tsv[.gz]}, plus an optional CSV of
 * cell annotations (header row, first column = barcode).
 *
 * <p>The matrix is genes x cells (10x convention), coordinate format, 1-based, integer or real values. Cells must
 * become rows and the file is not ordered by cell in general, so the whole matrix is parsed once into CSR and
 * shared by the tasks of a JVM ({@link ParsedAtlasCache}); memory is the full matrix (12 bytes per entry). Use
 * .h5ad for atlases that do not fit an executor.
 *
 * <p>Entries of a cell come in ascending gene order with any written zeros kept, as scanpy's {@code read_10x_mtx}
 * followed by {@code csr_matrix} holds them. A (gene, cell) pair written twice is refused (scipy would add them up;
 * Cell Ranger never writes one). Genes are named by the {@code gene_symbols} column (2nd) unless
 * {@link AtlasOptions#geneSymbolColumn()} names {@code gene_ids} (1st) or {@code feature_types} (3rd). Cells missing
 * from the annotation CSV get null annotations; a CSV that matches no barcode at all is refused.
 */
public final class MtxReader {
  private static final List<String> FEATURE_COLUMNS = List.of("gene_ids", "gene_symbols", "feature_types");

  private MtxReader() {}

  /** Opens a 10x folder on any Hadoop file system (a local path, file:, s3a://, ...). */
  public static AtlasReader open(String folder, AtlasOptions options) throws IOException {
    if (options.useRaw()) {
      throw AtlasFormatException.of(folder, "use-raw", "is set", "use-raw = false: a 10x folder has no raw matrix");
    }
    Configuration conf = HadoopFiles.configuration(options.hadoopConf());
    FileSystem fs = HadoopFiles.fileSystem(folder, conf);
    Path dir = new Path(folder);
    FileStatus dirStatus = AtlasReaders.status(folder, conf);
    if (!dirStatus.isDirectory()) {
      throw AtlasFormatException.of(folder, "folder", "is a file", "a 10x folder with matrix.mtx, features.tsv and "
          + "barcodes.tsv");
    }
    List<String> present = new ArrayList<>();
    for (FileStatus st : fs.listStatus(dir)) {
      present.add(st.getPath().getName());
    }
    FileStatus matrix = find(fs, dir, folder, present, "matrix.mtx");
    FileStatus features = findAny(fs, dir, present, "features.tsv", "genes.tsv");
    if (features == null) {
      throw AtlasFormatException.of(folder, "features.tsv", "not found (folder holds " + present + ")",
          "features.tsv[.gz] (Cell Ranger v3) or genes.tsv[.gz] (v2)");
    }
    FileStatus barcodes = find(fs, dir, folder, present, "barcodes.tsv");
    FileStatus obsCsv = null;
    if (options.obsCsv() != null) {
      obsCsv = AtlasReaders.status(options.obsCsv(), conf);
    } else {
      obsCsv = findAny(fs, dir, present, "obs.csv");
    }
    String key = "mtx|" + HadoopFiles.fingerprint(matrix) + "|" + HadoopFiles.fingerprint(features) + "|"
        + HadoopFiles.fingerprint(barcodes) + "|" + (obsCsv == null ? "-" : HadoopFiles.fingerprint(obsCsv)) + "|"
        + options.geneSymbolColumn() + "|" + options.obsColumns();
    FileStatus csv = obsCsv;
    LoadedAtlas atlas = ParsedAtlasCache.get(key,
        () -> load(folder, conf, matrix, features, barcodes, csv, options));
    return atlas;
  }

  // ------------------------------------------------------------------------------------------------ parsing

  private static FileStatus find(FileSystem fs, Path dir, String folder, List<String> present, String name)
      throws IOException {
    FileStatus st = findAny(fs, dir, present, name);
    if (st == null) {
      throw AtlasFormatException.of(folder, name, "not found (folder holds " + present + ")", name + "[.gz]");
    }
    return st;
  }

  private static FileStatus findAny(FileSystem fs, Path dir, List<String> present, String... names)
      throws IOException {
    for (String name : names) {
      for (String candidate : new String[] {name, name + ".gz"}) {
        if (present.contains(candidate)) {
          return fs.getFileStatus(new Path(dir, candidate));
        }
      }
    }
    return null;
  }

  private static List<String> lines(FileStatus st, Configuration conf) throws IOException {
    List<String> out = new ArrayList<>();
    try (BufferedReader r = reader(st, conf)) {
      for (String line; (line = r.readLine()) != null; ) {
        if (!line.isEmpty()) {
          out.add(line);
        }
      }
    }
    return out;
  }

  private static BufferedReader reader(FileStatus st, Configuration conf) throws IOException {
    return new BufferedReader(new InputStreamReader(HadoopFiles.openText(st.getPath(), conf),
        StandardCharsets.UTF_8), 1 << 16);
  }

  private static LoadedAtlas load(String folder, Configuration conf, FileStatus matrix, FileStatus features,
                                  FileStatus barcodes, FileStatus obsCsv, AtlasOptions options) throws IOException {
    String featuresName = features.getPath().getName();
    List<String> featureLines = lines(features, conf);
    String symbolColumn = options.geneSymbolColumn() == null ? "gene_symbols" : options.geneSymbolColumn();
    int col = FEATURE_COLUMNS.indexOf(symbolColumn);
    int width = featureLines.isEmpty() ? 0 : featureLines.get(0).split("\t", -1).length;
    if (col < 0 || col >= width) {
      throw AtlasFormatException.of(folder, featuresName,
          String.format("gene symbol column '%s' does not exist", symbolColumn),
          String.format("one of the columns %s of this file", FEATURE_COLUMNS.subList(0, Math.min(width, 3))));
    }
    List<String> genes = new ArrayList<>(featureLines.size());
    for (int j = 0; j < featureLines.size(); j++) {
      String[] parts = featureLines.get(j).split("\t", -1);
      if (parts.length <= col || parts[col].isEmpty()) {
        throw AtlasFormatException.of(folder, featuresName, String.format("line %d has no %s", j + 1, symbolColumn),
            String.format("%d tab-separated columns on every line", width));
      }
      genes.add(parts[col]);
    }
    List<String> cells = new ArrayList<>();
    for (String line : lines(barcodes, conf)) {
      cells.add(line.split("\t", -1)[0]);
    }
    String[] cellIds = cells.toArray(new String[0]);
    CsrRows csr = parseMatrix(folder, matrix, conf, genes, cellIds);

    Map<String, String[]> obs = new LinkedHashMap<>();
    List<String> available = List.of();
    if (obsCsv != null) {
      CsvTable table;
      try (BufferedReader r = reader(obsCsv, conf)) {
        table = CsvTable.read(r, obsCsv.getPath().toString());
      }
      available = table.header().subList(1, table.header().size());
      obs = joinObs(obsCsv.getPath().toString(), table, cellIds, options.obsColumns());
    } else if (!options.obsColumns().isEmpty()) {
      throw AtlasFormatException.of(folder, "obs columns " + options.obsColumns(),
          "the folder has no obs.csv and no obs CSV is configured",
          "an obs CSV (obs_csv) with these columns, or the obs columns set to null");
    }
    AtlasMeta meta = new AtlasMeta(folder, cellIds.length, genes, available);
    return new LoadedAtlas(meta, matrix.getPath().getName(), csr, cellIds, obs);
  }

  private static Map<String, String[]> joinObs(String csvName, CsvTable table, String[] cellIds,
                                               List<String> wanted) throws AtlasFormatException {
    List<String> header = table.header();
    List<String> available = header.subList(1, header.size());
    int[] at = new int[wanted.size()];
    for (int w = 0; w < wanted.size(); w++) {
      at[w] = available.indexOf(wanted.get(w)) + 1;
      if (at[w] == 0) {
        throw AtlasFormatException.of(csvName, wanted.get(w), "obs column does not exist",
            String.format("one of the columns %s (the first column, %s, holds the barcodes)", available,
                header.get(0)));
      }
    }
    Map<String, Integer> rowOf = new HashMap<>(cellIds.length * 2);
    for (int i = 0; i < cellIds.length; i++) {
      rowOf.put(cellIds[i], i);
    }
    Map<String, String[]> out = new LinkedHashMap<>();
    for (String w : wanted) {
      out.put(w, new String[cellIds.length]);
    }
    int matched = 0;
    for (String[] row : table.rows()) {
      Integer i = row[0] == null ? null : rowOf.get(row[0]);
      if (i == null) {
        continue;
      }
      matched++;
      for (int w = 0; w < at.length; w++) {
        out.get(wanted.get(w))[i] = row[at[w]];
      }
    }
    if (matched == 0 && !table.rows().isEmpty()) {
      throw AtlasFormatException.of(csvName, header.get(0), String.format(
              "none of its %d values is a barcode of the matrix (first barcode: %s)", table.rows().size(),
              cellIds.length > 0 ? cellIds[0] : "none"),
          "the cell barcodes of barcodes.tsv in the first column");
    }
    return out;
  }

  private static CsrRows parseMatrix(String folder, FileStatus matrix, Configuration conf, List<String> genes,
                                     String[] cellIds) throws IOException {
    String name = matrix.getPath().getName();
    try (BufferedReader r = reader(matrix, conf)) {
      String header = r.readLine();
      String[] h = header == null ? new String[0] : header.trim().split("\\s+");
      if (h.length < 5 || !h[0].equalsIgnoreCase("%%MatrixMarket") || !h[1].equalsIgnoreCase("matrix")
          || !h[2].equalsIgnoreCase("coordinate")
          || !(h[3].equalsIgnoreCase("integer") || h[3].equalsIgnoreCase("real"))
          || !h[4].equalsIgnoreCase("general")) {
        throw AtlasFormatException.of(folder, name, "header line is '" + header + "'",
            "'%%MatrixMarket matrix coordinate integer|real general'");
      }
      String line = r.readLine();
      int lineNo = 2;
      while (line != null && (line.startsWith("%") || line.isBlank())) {
        line = r.readLine();
        lineNo++;
      }
      long[] size = line == null ? new long[0] : parseLongs(line);
      if (size.length != 3) {
        throw AtlasFormatException.of(folder, name, "size line is '" + line + "'", "'genes cells entries'");
      }
      if (size[0] != genes.size() || size[1] != cellIds.length) {
        throw AtlasFormatException.of(folder, name,
            String.format("declares %d genes x %d cells", size[0], size[1]),
            String.format("%d genes (features file lines) x %d cells (barcodes.tsv lines), in 10x's genes x cells "
                + "orientation", genes.size(), cellIds.length));
      }
      if (size[2] > Integer.MAX_VALUE - 8) {
        throw AtlasFormatException.of(folder, name, size[2] + " entries", "fewer than 2^31 entries; use .h5ad");
      }
      int nnz = (int) size[2];
      int[] gene = new int[nnz];
      int[] cell = new int[nnz];
      double[] val = new double[nnz];
      int k = 0;
      while ((line = r.readLine()) != null) {
        lineNo++;
        if (line.isBlank() || line.startsWith("%")) {
          continue;
        }
        if (k == nnz) {
          throw AtlasFormatException.of(folder, name, "line " + lineNo + " is one entry too many",
              nnz + " entries as the size line declares");
        }
        int a = nextToken(line, 0);
        int b = nextToken(line, a);
        int g = parseIndex(folder, name, lineNo, line, 0, a, genes.size(), "gene");
        int c = parseIndex(folder, name, lineNo, line, a, b, cellIds.length, "cell");
        double v;
        try {
          v = Double.parseDouble(line.substring(b).trim());
        } catch (NumberFormatException e) {
          throw AtlasFormatException.of(folder, name, String.format("line %d is '%s'", lineNo, line),
              "'gene cell value' with a numeric value");
        }
        if (!(v >= 0) || Double.isInfinite(v)) {
          throw AtlasFormatException.of(folder, name, String.format("line %d: cell %s, gene %s has count %s", lineNo,
              cellIds[c], genes.get(g), v), "a finite count >= 0");
        }
        gene[k] = g;
        cell[k] = c;
        val[k] = v;
        k++;
      }
      if (k != nnz) {
        throw AtlasFormatException.of(folder, name, String.format("has %d entries", k),
            nnz + " entries as the size line declares");
      }
      return toCsr(folder, name, gene, cell, val, genes, cellIds);
    }
  }

  private static CsrRows toCsr(String folder, String name, int[] gene, int[] cell, double[] val, List<String> genes,
                               String[] cellIds) throws AtlasFormatException {
    int nCells = cellIds.length;
    long[] ptr = new long[nCells + 1];
    for (int c : cell) {
      ptr[c + 1]++;
    }
    for (int i = 0; i < nCells; i++) {
      ptr[i + 1] += ptr[i];
    }
    long[] next = ptr.clone();
    int[] idx = new int[gene.length];
    double[] v = new double[gene.length];
    for (int k = 0; k < gene.length; k++) {
      int at = (int) next[cell[k]]++;
      idx[at] = gene[k];
      v[at] = val[k];
    }
    for (int i = 0; i < nCells; i++) {
      int lo = (int) ptr[i];
      int hi = (int) ptr[i + 1];
      sortRow(idx, v, lo, hi);
      for (int k = lo + 1; k < hi; k++) {
        if (idx[k] == idx[k - 1]) {
          throw AtlasFormatException.of(folder, name,
              String.format("cell %s, gene %s is written twice", cellIds[i], genes.get(idx[k])),
              "each (gene, cell) pair at most once");
        }
      }
    }
    return new CsrRows(genes.size(), ptr, idx, v);
  }

  /** Sorts one row's entries by gene column (rows from Cell Ranger are usually sorted already). */
  private static void sortRow(int[] idx, double[] v, int lo, int hi) {
    boolean sorted = true;
    for (int k = lo + 1; k < hi && sorted; k++) {
      sorted = idx[k - 1] <= idx[k];
    }
    if (sorted) {
      return;
    }
    long[] packed = new long[hi - lo];
    for (int k = lo; k < hi; k++) {
      packed[k - lo] = ((long) idx[k] << 32) | (k - lo);
    }
    Arrays.sort(packed);
    double[] copy = Arrays.copyOfRange(v, lo, hi);
    for (int k = 0; k < packed.length; k++) {
      idx[lo + k] = (int) (packed[k] >>> 32);
      v[lo + k] = copy[(int) packed[k]];
    }
  }

  private static int nextToken(String line, int from) {
    int i = from;
    while (i < line.length() && Character.isWhitespace(line.charAt(i))) {
      i++;
    }
    while (i < line.length() && !Character.isWhitespace(line.charAt(i))) {
      i++;
    }
    return i;
  }

  private static int parseIndex(String folder, String name, int lineNo, String line, int from, int to, int limit,
                                String what) throws AtlasFormatException {
    long v;
    try {
      v = Long.parseLong(line.substring(from, to).trim());
    } catch (NumberFormatException e) {
      throw AtlasFormatException.of(folder, name, String.format("line %d is '%s'", lineNo, line),
          "'gene cell value' with 1-based integer gene and cell numbers");
    }
    if (v < 1 || v > limit) {
      throw AtlasFormatException.of(folder, name, String.format("line %d has %s number %d", lineNo, what, v),
          String.format("a 1-based %s number in [1, %d]", what, limit));
    }
    return (int) (v - 1);
  }

  private static long[] parseLongs(String line) {
    String[] parts = line.trim().split("\\s+");
    long[] out = new long[parts.length];
    try {
      for (int i = 0; i < parts.length; i++) {
        out[i] = Long.parseLong(parts[i]);
      }
    } catch (NumberFormatException e) {
      return new long[0];
    }
    return out;
  }
}
