package org.cellcircuits.harvest;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.Converter;
import org.apache.parquet.io.api.GroupConverter;
import org.apache.parquet.io.api.PrimitiveConverter;
import org.apache.parquet.io.api.RecordMaterializer;
import org.apache.parquet.schema.MessageType;
import org.cellcircuits.io.ConfigChecks;

/**
 * One epoch over a harvested layer, as shuffled batches (see {@link ActivationStore}). Rows are read lazily, one row
 * group at a time; close it to release the open file when stopping early.
 */
public final class ActivationBatches implements Iterator<ActivationBatch>, AutoCloseable {
  private final NDManager manager;
  private final int dModel;
  private final VectorFormat format;
  private final int batchSize;
  private final Random random;
  private final RowSource source;
  private final int slot; // bytes per buffered row: mlp_in then mlp_out
  private final byte[] buffer;
  private final long[] origins; // per buffered row: file index << 40 | row index in that file
  private final List<Path> order;
  private final int capacity;
  private final long total;
  private int size;
  private long emitted;

  ActivationBatches(NDManager manager, Configuration conf, List<Path> files, int dModel, VectorFormat format,
      int batchSize, int shuffleBuffer, long seed, long total) {
    ConfigChecks.atLeast("activation batch size", batchSize, 1);
    ConfigChecks.atLeast("shuffle buffer rows", shuffleBuffer, 1);
    this.manager = manager;
    this.dModel = dModel;
    this.format = format;
    this.batchSize = batchSize;
    this.random = new Random(seed);
    this.slot = 2 * VectorFormat.BYTES_PER_VALUE * dModel;
    this.total = total;
    this.capacity = (int) Math.max(1, Math.min(shuffleBuffer, Math.max(1, total)));
    this.buffer = new byte[Math.multiplyExact(capacity, slot)];
    this.origins = new long[capacity];
    List<Path> order = new ArrayList<>(files);
    Collections.shuffle(order, random);
    this.order = List.copyOf(order);
    this.source = new RowSource(conf, order, dModel, random);
    fill();
  }

  private void fill() {
    while (size < capacity && source.next(buffer, size * slot)) {
      origins[size] = source.origin();
      size++;
    }
  }

  /** Rows this epoch yields in all. */
  public long totalRows() {
    return total;
  }

  @Override
  public boolean hasNext() {
    return size > 0;
  }

  @Override
  public ActivationBatch next() {
    if (size == 0) {
      throw new NoSuchElementException("epoch finished after " + emitted + " rows");
    }
    int half = slot / 2;
    float[] in = new float[batchSize * dModel];
    float[] out = new float[batchSize * dModel];
    long[] rowOrigins = new long[batchSize];
    int n = 0;
    while (n < batchSize && size > 0) {
      int pick = random.nextInt(size);
      int at = pick * slot;
      format.decode(buffer, at, dModel, in, n * dModel);
      format.decode(buffer, at + half, dModel, out, n * dModel);
      rowOrigins[n] = origins[pick];
      n++;
      // Refill the emptied slot from the stream, or close the gap with the last buffered row once it has run dry.
      if (source.next(buffer, at)) {
        origins[pick] = source.origin();
      } else {
        size--;
        if (pick != size) {
          System.arraycopy(buffer, size * slot, buffer, at, slot);
          origins[pick] = origins[size];
        }
      }
    }
    emitted += n;
    if (n < batchSize) {
      in = java.util.Arrays.copyOf(in, n * dModel);
      out = java.util.Arrays.copyOf(out, n * dModel);
      rowOrigins = java.util.Arrays.copyOf(rowOrigins, n);
    }
    return new ActivationBatch(manager.create(in, new Shape(n, dModel)), manager.create(out, new Shape(n, dModel)),
        new ActivationBatch.Origins(order, rowOrigins));
  }

  @Override
  public void close() {
    source.close();
  }

  /** Rows of the files in turn (row groups of each file in a random order), copied as raw bytes. */
  private static final class RowSource {
    private final Configuration conf;
    private final Iterator<Path> files;
    private final MessageType projection;
    private final int width;
    private final Random random;
    private final VectorSink sink;
    private ParquetFileReader reader;
    private Path current;
    private List<Integer> groups;
    private RecordReader<Object> records;
    private long left;
    private int fileIndex = -1;
    private long groupStart; // row index, in the file, of the current row group's first row
    private long groupRows;
    private long lastRow = -1; // row index in the file of the row last copied

    /** Where the row last copied by {@link #next} came from: file index (in shuffled order) << 40 | row in file. */
    long origin() {
      return ((long) fileIndex << 40) | lastRow;
    }

    RowSource(Configuration conf, List<Path> files, int dModel, Random random) {
      this.conf = conf;
      this.files = files.iterator();
      this.projection = ActivationSchema.vectorsOnly(dModel);
      this.width = VectorFormat.BYTES_PER_VALUE * dModel;
      this.random = random;
      this.sink = new VectorSink(width);
    }

    /** Copies the next row's mlp_in and mlp_out to {@code dst[off..]}; false when every file is read. */
    boolean next(byte[] dst, int off) {
      try {
        while (left == 0) {
          if (!nextRowGroup()) {
            return false;
          }
        }
        sink.dst = dst;
        sink.off = off;
        records.read();
        lastRow = groupStart + (groupRows - left);
        left--;
        return true;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read activations from " + current + ": " + e.getMessage(), e);
      }
    }

    private boolean nextRowGroup() throws IOException {
      while (groups == null || groups.isEmpty()) {
        close();
        if (!files.hasNext()) {
          return false;
        }
        current = files.next();
        fileIndex++;
        reader = ParquetFileReader.open(HadoopInputFile.fromPath(current, conf));
        MessageType schema = reader.getFooter().getFileMetaData().getSchema();
        checkWidth(schema);
        reader.setRequestedSchema(projection);
        groups = new ArrayList<>();
        for (int g = 0; g < reader.getRowGroups().size(); g++) {
          groups.add(g);
        }
        Collections.shuffle(groups, random);
      }
      int group = groups.remove(groups.size() - 1);
      groupStart = 0;
      for (int g = 0; g < group; g++) {
        groupStart += reader.getRowGroups().get(g).getRowCount();
      }
      PageReadStore pages = reader.readRowGroup(group);
      MessageColumnIO io = new ColumnIOFactory().getColumnIO(projection, reader.getFooter().getFileMetaData().getSchema());
      records = io.getRecordReader(pages, sink);
      left = pages.getRowCount();
      groupRows = left;
      return true;
    }

    private void checkWidth(MessageType schema) {
      for (String column : new String[] {ActivationSchema.MLP_IN, ActivationSchema.MLP_OUT}) {
        if (!schema.containsField(column)) {
          throw new IllegalArgumentException(String.format("activation file %s: column %s is missing; expected "
              + "columns %s and %s (a layer file the harvest stage wrote)", current, column, ActivationSchema.MLP_IN,
              ActivationSchema.MLP_OUT));
        }
        var type = schema.getType(column).asPrimitiveType();
        if (type.getTypeLength() != width) {
          throw new IllegalArgumentException(String.format(
              "activation file %s: column %s holds %d-byte vectors; expected %d (d_model %d in the layer's manifest)",
              current, column, type.getTypeLength(), width, width / VectorFormat.BYTES_PER_VALUE));
        }
      }
    }

    void close() {
      if (reader != null) {
        try {
          reader.close();
        } catch (IOException ignored) {
          // read-only file: nothing was lost
        }
        reader = null;
      }
      groups = null;
      left = 0;
    }
  }

  /** Parquet record materializer that copies the two vectors of each record into a caller's buffer. */
  private static final class VectorSink extends RecordMaterializer<Object> {
    byte[] dst;
    int off;
    private final int width;
    private final GroupConverter root;

    VectorSink(int width) {
      this.width = width;
      PrimitiveConverter in = new PrimitiveConverter() {
        @Override
        public void addBinary(Binary value) {
          copy(value, off);
        }
      };
      PrimitiveConverter out = new PrimitiveConverter() {
        @Override
        public void addBinary(Binary value) {
          copy(value, off + VectorSink.this.width);
        }
      };
      this.root = new GroupConverter() {
        @Override
        public Converter getConverter(int fieldIndex) {
          return fieldIndex == 0 ? in : out;
        }

        @Override
        public void start() {}

        @Override
        public void end() {}
      };
    }

    private void copy(Binary value, int at) {
      if (value.length() != width) {
        throw new IllegalArgumentException(String.format("vector of %d bytes; expected %d", value.length(), width));
      }
      value.toByteBuffer().get(dst, at, width);
    }

    @Override
    public Object getCurrentRecord() {
      return null;
    }

    @Override
    public GroupConverter getRootConverter() {
      return root;
    }
  }
}
