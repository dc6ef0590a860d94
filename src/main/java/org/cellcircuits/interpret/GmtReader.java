package org.cellcircuits.interpret;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads gene sets in the GMT format of GSEA and MSigDB: one set per line, tab-separated,
 * {@code name<TAB>description<TAB>gene<TAB>gene...}.
 *
 * <p>Blank lines are skipped; empty gene fields (trailing tabs, which exported files often carry) are ignored, and so
 * is a gene repeated within a set. Every error names the source and the line.
 */
public final class GmtReader {
  private GmtReader() {}

  /** Reads a GMT file from local disk. */
  public static GeneSets read(Path file) {
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      return read(in, file.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read gene sets from " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Reads GMT text (from any file system: the stage opens it through Hadoop).
   *
   * @param source the file's name in error messages
   */
  public static GeneSets read(BufferedReader in, String source) throws IOException {
    List<GeneSet> sets = new ArrayList<>();
    Map<String, Integer> lineOfName = new HashMap<>();
    String line;
    int lineNo = 0;
    while ((line = in.readLine()) != null) {
      lineNo++;
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split("\t", -1);
      if (f.length < 3) {
        throw new IllegalArgumentException(String.format(
            "%s line %d: %d tab-separated field(s); a GMT line is name<TAB>description<TAB>gene...",
            source, lineNo, f.length));
      }
      String name = f[0].trim();
      if (name.isEmpty()) {
        throw new IllegalArgumentException(String.format("%s line %d: the gene set name is empty", source, lineNo));
      }
      Integer earlier = lineOfName.putIfAbsent(name, lineNo);
      if (earlier != null) {
        throw new IllegalArgumentException(String.format(
            "%s line %d: gene set '%s' was already defined on line %d", source, lineNo, name, earlier));
      }
      Set<String> genes = new LinkedHashSet<>();
      for (int i = 2; i < f.length; i++) {
        String g = f[i].trim();
        if (!g.isEmpty()) {
          genes.add(g);
        }
      }
      if (genes.isEmpty()) {
        throw new IllegalArgumentException(String.format(
            "%s line %d: gene set '%s' lists no genes", source, lineNo, name));
      }
      sets.add(new GeneSet(name, f[1].trim(), genes));
    }
    if (sets.isEmpty()) {
      throw new IllegalArgumentException(String.format("%s holds no gene sets", source));
    }
    return new GeneSets(source, sets);
  }
}
