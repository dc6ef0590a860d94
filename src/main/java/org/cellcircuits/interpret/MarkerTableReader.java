package org.cellcircuits.interpret;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a marker table like the demo's {@code demo/markers.tsv} as gene sets, one per cell type: a tab-separated file
 * whose header names a {@code cell_type} and a {@code gene} column (other columns, such as {@code weight} and
 * {@code source}, are ignored), one marker per line. Sets are named by the cell type, in order of first appearance,
 * so a feature's enrichment reads as "its top genes are endothelial markers". Every error names the source and line.
 */
public final class MarkerTableReader {
  private MarkerTableReader() {}

  public static final String CELL_TYPE = "cell_type";
  public static final String GENE = "gene";

  /** Reads a marker table from local disk. */
  public static GeneSets read(Path file) {
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      return read(in, file.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read markers from " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Reads marker-table text (from any file system).
   *
   * @param source the file's name in error messages
   */
  public static GeneSets read(BufferedReader in, String source) throws IOException {
    String header = in.readLine();
    if (header == null) {
      throw new IllegalArgumentException(String.format(
          "%s is empty; expected a header naming %s and %s columns", source, CELL_TYPE, GENE));
    }
    List<String> columns = Arrays.asList(header.split("\t", -1));
    int typeCol = columns.indexOf(CELL_TYPE);
    int geneCol = columns.indexOf(GENE);
    if (typeCol < 0 || geneCol < 0) {
      throw new IllegalArgumentException(String.format(
          "%s line 1: header %s lacks a %s or a %s column (tab-separated)", source, columns, CELL_TYPE, GENE));
    }
    int needed = Math.max(typeCol, geneCol) + 1;
    Map<String, Set<String>> byType = new LinkedHashMap<>();
    String line;
    int lineNo = 1;
    while ((line = in.readLine()) != null) {
      lineNo++;
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split("\t", -1);
      if (f.length < needed) {
        throw new IllegalArgumentException(String.format(
            "%s line %d: %d field(s); the header puts %s and %s in columns %d and %d",
            source, lineNo, f.length, CELL_TYPE, GENE, typeCol + 1, geneCol + 1));
      }
      String type = f[typeCol].trim();
      String gene = f[geneCol].trim();
      if (type.isEmpty() || gene.isEmpty()) {
        throw new IllegalArgumentException(String.format(
            "%s line %d: empty %s", source, lineNo, type.isEmpty() ? CELL_TYPE : GENE));
      }
      byType.computeIfAbsent(type, k -> new LinkedHashSet<>()).add(gene);
    }
    if (byType.isEmpty()) {
      throw new IllegalArgumentException(String.format("%s lists no markers", source));
    }
    List<GeneSet> sets = new ArrayList<>();
    byType.forEach((type, genes) -> sets.add(new GeneSet(type, "markers of " + type + " in " + source, genes)));
    return new GeneSets(source, sets);
  }
}
