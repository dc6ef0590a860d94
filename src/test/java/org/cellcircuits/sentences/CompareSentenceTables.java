package org.cellcircuits.sentences;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;

/**
 * The check of {@code jobs/bench/sentences} that both sides did the same work: every row of the stage's output
 * (a Spark Parquet folder) equals the reference's row for the same {@code atlas_row} in every column (an MD5 of
 * all columns per row, so the whole table is compared without holding it), each atlas row appears exactly once,
 * and, when given, the first K words of cell2sentence's own loop (numpy + sklearn, on a leading slice of the
 * atlas) equal the stage's sentences.
 *
 * <pre>
 * java -cp ... org.cellcircuits.sentences.CompareSentenceTables OURS_DIR REFERENCE.parquet CELLS [C2S_SLICE.tsv]
 * </pre>
 * Prints {@code COMPARE rows=.. equal=.. missing=.. c2s_rows=.. c2s_equal=..} and exits 1 on any difference.
 */
public final class CompareSentenceTables {
  private CompareSentenceTables() {
  }

  public static void main(String[] args) throws IOException {
    Path ours = Path.of(args[0]);
    Path reference = Path.of(args[1]);
    int cells = Integer.parseInt(args[2]);
    Map<Long, String> c2s = args.length > 3 ? c2sSlice(Path.of(args[3])) : Map.of();

    byte[][] expected = new byte[cells][];
    read(reference, (row, digest, sentence) -> {
      if (expected[(int) row] != null) {
        throw new IllegalStateException("reference has atlas_row " + row + " twice");
      }
      expected[(int) row] = digest;
    });
    long[] counts = new long[4]; // rows, equal, seen twice, c2s equal
    boolean[] seen = new boolean[cells];
    List<String> firstProblems = new ArrayList<>();
    List<Path> parts;
    try (Stream<Path> files = Files.list(ours)) {
      parts = files.filter(p -> p.getFileName().toString().endsWith(".parquet")).sorted().toList();
    }
    for (Path part : parts) {
      read(part, (row, digest, sentence) -> {
        counts[0]++;
        int r = (int) row;
        if (seen[r]) {
          counts[2]++;
        }
        seen[r] = true;
        if (Arrays.equals(expected[r], digest)) {
          counts[1]++;
        } else if (firstProblems.size() < 5) {
          firstProblems.add("atlas_row " + row + " differs; ours: " + abbreviate(sentence));
        }
        String words = c2s.get(row);
        if (words != null) {
          if (words.equals(sentence)) {
            counts[3]++;
          } else if (firstProblems.size() < 5) {
            firstProblems.add("atlas_row " + row + " differs from cell2sentence's loop: ours " + abbreviate(sentence)
                + " vs " + abbreviate(words));
          }
        }
      });
    }
    long missing = 0;
    for (boolean s : seen) {
      missing += s ? 0 : 1;
    }
    boolean ok = counts[0] == cells && counts[1] == cells && counts[2] == 0 && missing == 0 && counts[3] == c2s.size();
    System.out.printf(Locale.ROOT, "COMPARE rows=%d equal=%d twice=%d missing=%d c2s_rows=%d c2s_equal=%d %s%n",
        counts[0], counts[1], counts[2], missing, c2s.size(), counts[3], ok ? "ok" : "DIFFERENT");
    firstProblems.forEach(p -> System.out.println("  " + p));
    if (!ok) {
      System.exit(1);
    }
  }

  private interface RowVisitor {
    void row(long atlasRow, byte[] digest, String sentence);
  }

  /** Every row of one Parquet file: its atlas_row, the MD5 of all its columns, its sentence. */
  private static void read(Path file, RowVisitor visitor) throws IOException {
    MessageDigest md5 = md5();
    org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(file.toAbsolutePath().toUri());
    try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), path)
        .withConf(new Configuration()).build()) {
      for (Group g = reader.read(); g != null; g = reader.read()) {
        md5.reset();
        for (String field : List.of("cell_id", "cell_type", "donor", "tissue", "sentence", "prompt")) {
          String v = g.getFieldRepetitionCount(field) == 0 ? "\u0001null" : g.getString(field, 0);
          md5.update(v.getBytes(StandardCharsets.UTF_8));
          md5.update((byte) 0);
        }
        Group genes = g.getGroup("genes", 0);
        int n = genes.getFieldRepetitionCount("list");
        for (int i = 0; i < n; i++) {
          md5.update(genes.getGroup("list", i).getString("element", 0).getBytes(StandardCharsets.UTF_8));
          md5.update((byte) 1);
        }
        md5.update(Integer.toString(g.getInteger("n_expressed", 0)).getBytes(StandardCharsets.UTF_8));
        visitor.row(g.getLong("atlas_row", 0), md5.digest(), g.getString("sentence", 0));
      }
    }
  }

  /** Lines "atlas_row TAB first K words" written by jobs/bench/c2s_loop.py. */
  private static Map<Long, String> c2sSlice(Path file) throws IOException {
    Map<Long, String> out = new HashMap<>();
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        int tab = line.indexOf('\t');
        out.put(Long.parseLong(line.substring(0, tab)), line.substring(tab + 1));
      }
    }
    return out;
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 80) + "...";
  }

  private static MessageDigest md5() {
    try {
      return MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
