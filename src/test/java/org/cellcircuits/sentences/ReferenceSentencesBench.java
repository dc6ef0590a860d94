package org.cellcircuits.sentences;

import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * The straightforward single-threaded way to make the sentences table, the reference side of
 * {@code jobs/bench/sentences}: read the whole CSR matrix and the obs columns of an .h5ad into plain arrays with
 * jhdf, then for each cell in file order do what cell2sentence's {@code generate_sentences} loop does -- shuffle
 * the row's stored entries with numpy's global RandomState seeded 42 once ({@link NumpyRandomState#shuffle}, the
 * one piece shared with the stage), stable-sort the whole row by descending count (a boxed index array and
 * {@link Arrays#sort(Object[], java.util.Comparator)}, TimSort, the Java spelling of
 * {@code np.argsort(-vals, kind="stable")}), keep the first K upper-cased symbols -- and write the stage's columns
 * with parquet-hadoop's example writer (one file, Snappy, as Spark writes). No Spark, no selection, no reuse of
 * buffers between cells.
 *
 * <pre>
 * java -Xmx12g -cp target/classes:target/test-classes:$(cat cp.txt) \
 *   org.cellcircuits.sentences.ReferenceSentencesBench ATLAS.h5ad OUT.parquet [K]
 * </pre>
 * Prints one line {@code REFERENCE cells=.. read_s=.. build_s=.. total_s=.. cpu_s=.. cells_per_s=..}; the time
 * excludes JVM start (it starts at the first line of main).
 */
public final class ReferenceSentencesBench {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  /** Elements per jhdf slice read: the whole matrix ends up in one array, read in pieces to bound the copies. */
  private static final int SLICE = 1 << 23;

  static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
      message sentences {
        required binary cell_id (STRING);
        optional binary cell_type (STRING);
        optional binary donor (STRING);
        optional binary tissue (STRING);
        required group genes (LIST) {
          repeated group list {
            required binary element (STRING);
          }
        }
        required binary sentence (STRING);
        required binary prompt (STRING);
        required int32 n_expressed;
        required int64 atlas_row;
      }""");

  private ReferenceSentencesBench() {
  }

  public static void main(String[] args) throws IOException {
    long t0 = System.nanoTime();
    double cpu0 = processCpu();
    Path atlas = Path.of(args[0]);
    org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(Path.of(args[1]).toAbsolutePath().toUri());
    int topK = args.length > 2 ? Integer.parseInt(args[2]) : 200;

    String[] words;
    String[] cellIds;
    String[] cellTypes;
    String[] donors;
    String[] tissues;
    int[] indptr;
    int[] indices;
    float[] data;
    try (HdfFile hdf = new HdfFile(atlas)) {
      String[] symbols = (String[]) hdf.getDatasetByPath("var/_index").getData();
      words = new String[symbols.length];
      for (int g = 0; g < symbols.length; g++) {
        words[g] = symbols[g].toUpperCase(Locale.ROOT); // cell2sentence's vocabulary is upper-cased
      }
      cellIds = (String[]) hdf.getDatasetByPath("obs/_index").getData();
      cellTypes = categorical(hdf, "obs/cell_type");
      donors = categorical(hdf, "obs/donor_id");
      tissues = categorical(hdf, "obs/tissue");
      indptr = (int[]) hdf.getDatasetByPath("X/indptr").getData();
      int nnz = indptr[indptr.length - 1];
      indices = new int[nnz];
      data = new float[nnz];
      Dataset indicesDs = hdf.getDatasetByPath("X/indices");
      Dataset dataDs = hdf.getDatasetByPath("X/data");
      for (int at = 0; at < nnz; at += SLICE) {
        int n = Math.min(SLICE, nnz - at);
        System.arraycopy((int[]) indicesDs.getData(new long[] {at}, new int[] {n}), 0, indices, at, n);
        System.arraycopy((float[]) dataDs.getData(new long[] {at}, new int[] {n}), 0, data, at, n);
      }
    }
    long t1 = System.nanoTime();

    int cells = indptr.length - 1;
    String promptHead = PromptTemplate.C2S_CELL_TYPE_0.replace("{num_genes}", Integer.toString(topK))
        .replace("{organism}", "Homo sapiens");
    NumpyRandomState rng = new NumpyRandomState(42);
    SimpleGroupFactory rows = new SimpleGroupFactory(SCHEMA);
    try (ParquetWriter<Group> writer = ExampleParquetWriter.builder(out).withConf(new Configuration())
        .withType(SCHEMA).withCompressionCodec(CompressionCodecName.SNAPPY).build()) {
      for (int r = 0; r < cells; r++) {
        int start = indptr[r];
        int n = indptr[r + 1] - start;
        // sklearn.utils.shuffle(cols, vals): both indexed by a shuffled arange(n).
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
          perm[i] = i;
        }
        rng.shuffle(perm);
        int[] cols = new int[n];
        float[] vals = new float[n];
        int expressed = 0;
        for (int i = 0; i < n; i++) {
          cols[i] = indices[start + perm[i]];
          vals[i] = data[start + perm[i]];
          expressed += vals[i] > 0 ? 1 : 0;
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
          order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(vals[b], vals[a]));
        List<String> genes = new ArrayList<>(Math.min(topK, n));
        for (int i = 0; i < Math.min(topK, n); i++) {
          genes.add(words[cols[order[i]]]);
        }
        String sentence = String.join(" ", genes);
        Group row = rows.newGroup()
            .append("cell_id", cellIds[r])
            .append("cell_type", cellTypes[r])
            .append("donor", donors[r])
            .append("tissue", tissues[r]);
        Group list = row.addGroup("genes");
        for (String gene : genes) {
          list.addGroup("list").append("element", gene);
        }
        row.append("sentence", sentence)
            .append("prompt", promptHead.replace("{cell_sentence}", sentence))
            .append("n_expressed", expressed)
            .append("atlas_row", (long) r);
        writer.write(row);
      }
    }
    long t2 = System.nanoTime();
    double total = (t2 - t0) / 1e9;
    System.out.printf(Locale.ROOT, "REFERENCE cells=%d read_s=%.2f build_s=%.2f total_s=%.2f cpu_s=%.2f "
            + "thread_cpu_s=%.2f cells_per_s=%.0f%n", cells, (t1 - t0) / 1e9, (t2 - t1) / 1e9, total,
        processCpu() - cpu0, THREADS.getCurrentThreadCpuTime() / 1e9, cells / total);
  }

  /** An anndata 0.8 categorical obs column (codes + categories) as one string per cell. */
  private static String[] categorical(HdfFile hdf, String path) {
    String[] categories = (String[]) hdf.getDatasetByPath(path + "/categories").getData();
    long[] codes = H5adArrays.longs(hdf.getDatasetByPath(path + "/codes").getData());
    String[] out = new String[codes.length];
    for (int i = 0; i < codes.length; i++) {
      out[i] = codes[i] < 0 ? null : categories[(int) codes[i]];
    }
    return out;
  }

  /** CPU seconds of the whole JVM (JIT and GC threads included). */
  static double processCpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime() / 1e9;
  }
}
