package org.cellcircuits.sentences;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.cellcircuits.runtime.HadoopFiles;

/**
 * Reads a Parquet long table, one row per stored entry: {@code cell_id, gene, count}, optionally with per-cell
 * annotation columns (e.g. {@code cell_type}) repeated on each of a cell's rows. The path is one Parquet file or a
 * folder of them (part files are read in name order; names starting with {@code _} or {@code .} are skipped).
 *
 * <p>A long table has no matrix order of its own, so this reader fixes one:
 * <ul>
 *   <li><b>cells</b> (rows) in order of first appearance, reading the part files in name order and each file's rows
 *       in order, so a table written from an AnnData in cell order keeps that order;
 *   <li><b>genes</b> (columns) sorted by symbol ({@link String#compareTo}, i.e. code-point order for ASCII names),
 *       so the columns do not depend on how the table was written or partitioned;
 *   <li>each cell's entries in ascending gene column; every table row is one stored entry (a row with count 0 is
 *       an explicitly stored zero); a (cell, gene) pair on two rows is refused.
 * </ul>
 * {@link AtlasOptions#geneSymbolColumn()} names the gene column (default {@code gene}). An annotation column must
 * hold one value per cell; two different values for one cell are refused.
 *
 * <p>The table is parsed whole, once per executor JVM ({@link ParsedAtlasCache}), with parquet-hadoop (no Spark
 * session needed on executors); memory is the full matrix. Use .h5ad for atlases that do not fit an executor.
 */
public final class ParquetLongReader {
  public static final String CELL_ID = "cell_id";
  public static final String GENE = "gene";
  public static final String COUNT = "count";

  private ParquetLongReader() {}

  /** Opens a Parquet file or folder on any Hadoop file system. */
  public static AtlasReader open(String path, AtlasOptions options) throws IOException {
    if (options.useRaw()) {
      throw AtlasFormatException.of(path, "use-raw", "is set", "use-raw = false: a long table has no raw matrix");
    }
    Configuration conf = HadoopFiles.configuration(options.hadoopConf());
    FileStatus root = AtlasReaders.status(path, conf);
    List<FileStatus> parts = new ArrayList<>();
    if (root.isDirectory()) {
      FileSystem fs = HadoopFiles.fileSystem(path, conf);
      for (FileStatus st : fs.listStatus(root.getPath())) {
        String name = st.getPath().getName();
        if (st.isFile() && !name.startsWith("_") && !name.startsWith(".") && !name.endsWith(".crc")) {
          parts.add(st);
        }
      }
      parts.sort((a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
      if (parts.isEmpty()) {
        throw AtlasFormatException.of(path, "folder", "holds no Parquet part files", "one or more .parquet files");
      }
    } else {
      parts.add(root);
    }
    StringBuilder key = new StringBuilder("parquet|");
    for (FileStatus st : parts) {
      key.append(HadoopFiles.fingerprint(st)).append('|');
    }
    key.append(options.geneSymbolColumn()).append('|').append(options.obsColumns());
    LoadedAtlas atlas = ParsedAtlasCache.get(key.toString(), () -> new Loader(path, conf, options).load(parts));
    return atlas;
  }

  /** One pass over the table into growable arrays, then the ordering rules above. */
  private static final class Loader {
    private final String source;
    private final Configuration conf;
    private final String geneColumn;
    private final List<String> obsWanted;
    private final Map<String, Integer> cellOf = new LinkedHashMap<>();
    private final Map<String, Integer> geneOf = new HashMap<>();
    private final List<String> geneNames = new ArrayList<>();
    private final IntList cells = new IntList();
    private final IntList genes = new IntList();
    private final DoubleList counts = new DoubleList();
    private final Map<String, List<String>> obs = new LinkedHashMap<>();
    private List<String> obsAvailable;

    Loader(String source, Configuration conf, AtlasOptions options) {
      this.source = source;
      this.conf = conf;
      this.geneColumn = options.geneSymbolColumn() == null ? GENE : options.geneSymbolColumn();
      this.obsWanted = options.obsColumns();
      for (String c : obsWanted) {
        obs.put(c, new ArrayList<>());
      }
    }

    LoadedAtlas load(List<FileStatus> parts) throws IOException {
      for (FileStatus part : parts) {
        readPart(part);
      }
      List<String> sorted = new ArrayList<>(geneNames);
      Collections.sort(sorted);
      int[] rank = new int[geneNames.size()];
      for (int j = 0; j < sorted.size(); j++) {
        rank[geneOf.get(sorted.get(j))] = j;
      }
      String[] cellIds = cellOf.keySet().toArray(new String[0]);
      CsrRows csr = toCsr(cellIds, rank, sorted);
      Map<String, String[]> obsArrays = new LinkedHashMap<>();
      for (Map.Entry<String, List<String>> e : obs.entrySet()) {
        obsArrays.put(e.getKey(), e.getValue().toArray(new String[0]));
      }
      AtlasMeta meta = new AtlasMeta(source, cellIds.length, sorted, obsAvailable == null ? List.of() : obsAvailable);
      return new LoadedAtlas(meta, "Parquet long table", csr, cellIds, obsArrays);
    }

    private void readPart(FileStatus part) throws IOException {
      String file = part.getPath().toString();
      MessageType schema;
      try (ParquetFileReader footer = ParquetFileReader.open(HadoopInputFile.fromStatus(part, conf))) {
        schema = footer.getFooter().getFileMetaData().getSchema();
      } catch (RuntimeException | IOException e) {
        throw AtlasFormatException.of(file, "file", "is not a readable Parquet file (" + e.getMessage() + ")",
            "a Parquet long table with columns cell_id, gene, count");
      }
      List<String> columns = new ArrayList<>();
      for (Type t : schema.getFields()) {
        columns.add(t.getName());
      }
      List<String> needed = new ArrayList<>(List.of(CELL_ID, geneColumn, COUNT));
      needed.addAll(obsWanted);
      for (String c : needed) {
        if (!columns.contains(c) || !schema.getType(c).isPrimitive()) {
          String role = c.equals(geneColumn) ? "gene symbol" : obsWanted.contains(c) ? "obs" : "required";
          throw AtlasFormatException.of(file, c, String.format("%s column '%s' does not exist", role, c),
              String.format("one of the columns %s", columns));
        }
      }
      List<String> available = new ArrayList<>(columns);
      available.removeAll(List.of(CELL_ID, geneColumn, COUNT));
      if (obsAvailable == null) {
        obsAvailable = List.copyOf(available);
      }
      List<Type> projected = new ArrayList<>();
      for (String c : needed) {
        if (projected.stream().noneMatch(t -> t.getName().equals(c))) {
          projected.add(schema.getType(c));
        }
      }
      Configuration readConf = new Configuration(conf);
      readConf.set(ReadSupport.PARQUET_READ_SCHEMA, new MessageType("projection", projected).toString());
      PrimitiveType countType = schema.getType(COUNT).asPrimitiveType();
      long row = 0;
      try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), part.getPath())
          .withConf(readConf).build()) {
        for (Group g; (g = reader.read()) != null; row++) {
          String cell = text(g, CELL_ID, file, row, true);
          String gene = text(g, geneColumn, file, row, true);
          double count = number(g, countType, file, row, cell, gene);
          Integer c = cellOf.get(cell);
          if (c == null) {
            c = cellOf.size();
            cellOf.put(cell, c);
            for (String o : obsWanted) {
              obs.get(o).add(text(g, o, file, row, false));
            }
          } else {
            for (String o : obsWanted) {
              String v = text(g, o, file, row, false);
              String first = obs.get(o).get(c);
              if (!Objects.equals(v, first)) {
                throw AtlasFormatException.of(file, o,
                    String.format("cell %s has both '%s' and '%s' (row %d)", cell, first, v, row),
                    "one value per cell");
              }
            }
          }
          Integer j = geneOf.get(gene);
          if (j == null) {
            j = geneNames.size();
            geneOf.put(gene, j);
            geneNames.add(gene);
          }
          cells.add(c);
          genes.add(j);
          counts.add(count);
        }
      }
    }

    private static String text(Group g, String column, String file, long row, boolean required)
        throws AtlasFormatException {
      if (g.getFieldRepetitionCount(column) == 0) {
        if (required) {
          throw AtlasFormatException.of(file, column, String.format("row %d is null", row), "a value on every row");
        }
        return null;
      }
      return g.getValueToString(g.getType().getFieldIndex(column), 0);
    }

    private static double number(Group g, PrimitiveType type, String file, long row, String cell, String gene)
        throws AtlasFormatException {
      if (g.getFieldRepetitionCount(COUNT) == 0) {
        throw AtlasFormatException.of(file, COUNT, String.format("row %d (cell %s, gene %s) is null", row, cell,
            gene), "a count on every row");
      }
      double v = switch (type.getPrimitiveTypeName()) {
        case INT32 -> g.getInteger(COUNT, 0);
        case INT64 -> g.getLong(COUNT, 0);
        case FLOAT -> g.getFloat(COUNT, 0);
        case DOUBLE -> g.getDouble(COUNT, 0);
        default -> throw AtlasFormatException.of(file, COUNT, "has type " + type.getPrimitiveTypeName(),
            "an integer or floating-point count column");
      };
      if (!(v >= 0) || Double.isInfinite(v)) {
        throw AtlasFormatException.of(file, COUNT, String.format("row %d: cell %s, gene %s has count %s", row, cell,
            gene, v), "a finite count >= 0");
      }
      return v;
    }

    private CsrRows toCsr(String[] cellIds, int[] rank, List<String> sortedGenes) throws AtlasFormatException {
      int n = cells.size();
      long[] ptr = new long[cellIds.length + 1];
      for (int k = 0; k < n; k++) {
        ptr[cells.get(k) + 1]++;
      }
      for (int i = 0; i < cellIds.length; i++) {
        ptr[i + 1] += ptr[i];
      }
      long[] next = ptr.clone();
      int[] idx = new int[n];
      double[] val = new double[n];
      for (int k = 0; k < n; k++) {
        int at = (int) next[cells.get(k)]++;
        idx[at] = rank[genes.get(k)];
        val[at] = counts.get(k);
      }
      for (int i = 0; i < cellIds.length; i++) {
        int lo = (int) ptr[i];
        int hi = (int) ptr[i + 1];
        long[] packed = new long[hi - lo];
        for (int k = lo; k < hi; k++) {
          packed[k - lo] = ((long) idx[k] << 32) | (k - lo);
        }
        Arrays.sort(packed);
        double[] copy = Arrays.copyOfRange(val, lo, hi);
        for (int k = 0; k < packed.length; k++) {
          idx[lo + k] = (int) (packed[k] >>> 32);
          val[lo + k] = copy[(int) packed[k]];
          if (k > 0 && idx[lo + k] == idx[lo + k - 1]) {
            throw AtlasFormatException.of(source, "cell_id, " + geneColumn,
                String.format("cell %s has gene %s on two rows", cellIds[i], sortedGenes.get(idx[lo + k])),
                "each (cell, gene) pair on at most one row");
          }
        }
      }
      return new CsrRows(sortedGenes.size(), ptr, idx, val);
    }
  }
}
