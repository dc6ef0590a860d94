package org.cellcircuits.sentences;

import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.bytes.ByteBufferAllocator;
import org.apache.parquet.bytes.HeapByteBufferAllocator;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnWriteStore;
import org.apache.parquet.column.ColumnWriter;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.hadoop.CodecFactory;
import org.apache.parquet.hadoop.ColumnChunkPageWriteStore;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetOutputFormat;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Writes sentence rows into one Parquet file, straight from a {@link SentenceCursor}: the file Spark's Parquet
 * writer would make from {@link SentencesJob#SCHEMA} (same Parquet schema, Spark's schema in the footer, the
 * same codec and sizes), without going through Spark rows.
 *
 * <p>Why: the 200 genes of every cell are 200 strings in the {@code genes} column. Through Spark, each of them is
 * copied into an UnsafeRow, copied out again, wrapped, passed through Parquet's record assembly (a group start
 * and end per list element) and looked up in the column's dictionary by hashing its bytes; that was more than
 * half of the stage's CPU (JFR, jobs/bench/sentences). Here the {@code genes} column goes around Parquet's
 * per-value column writer altogether: {@link GenesColumnWriter} writes its pages from each cell's gene columns,
 * and Parquet's writers take the other columns.
 *
 * <p>Dictionary encoding is off for the columns whose values are unique per cell (cell_id, sentence, prompt,
 * atlas_row), where Parquet would build a dictionary only to drop it. Not thread-safe; one writer per task.
 */
final class SentenceParquetWriter implements Closeable {
  /** The Parquet schema Spark 3.5 writes for {@link SentencesJob#SCHEMA} (non-legacy list layout). */
  static final MessageType PARQUET_SCHEMA = MessageTypeParser.parseMessageType("""
      message spark_schema {
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
  /** Every column but genes, which {@link GenesColumnWriter} writes into the same row group's page store. */
  private static final MessageType OTHER_COLUMNS = new MessageType(PARQUET_SCHEMA.getName(),
      PARQUET_SCHEMA.getFields().stream().filter(f -> !f.getName().equals("genes")).toList());
  private static final ColumnDescriptor GENES = PARQUET_SCHEMA.getColumnDescription(
      new String[] {"genes", "list", "element"});
  /** Rows between checks of the buffered size against the row-group size (the check walks every column). */
  private static final int SIZE_CHECK_EVERY = 64;

  private final Path file;
  private final ParquetProperties properties;
  private final CodecFactory.BytesCompressor compressor;
  private final ByteBufferAllocator allocator = new HeapByteBufferAllocator();
  private final ParquetFileWriter fileWriter;
  private final long rowGroupBytes;
  private final Binary[] geneValues;
  private final byte[][] geneBytes;
  private final int pageBytes;
  private final int maxDictionaryBytes;
  private int[] rowGenes = new int[256];
  private final Map<String, String> footer;
  private final CodecFactory codecs;

  private ColumnChunkPageWriteStore pages;
  private ColumnWriteStore store;
  private ColumnWriter cellId;
  private ColumnWriter cellType;
  private ColumnWriter donor;
  private ColumnWriter tissue;
  private GenesColumnWriter genes;
  private ColumnWriter sentence;
  private ColumnWriter prompt;
  private ColumnWriter expressed;
  private ColumnWriter atlasRow;
  private long rowsInGroup;
  private long rows;

  /**
   * @param conf       Hadoop configuration: the file system of {@code file}, and Parquet's size settings
   *                   ({@code parquet.block.size}, {@code parquet.page.size}, {@code parquet.dictionary.page.size},
   *                   as Spark's writer reads them)
   * @param file       the file to create (overwritten if it exists)
   * @param codec      compression, as {@code spark.sql.parquet.compression.codec} names it
   * @param words      the word of each gene column, as the sentence writes it
   * @param footer     key-value metadata for the footer (Spark's schema and version)
   */
  SentenceParquetWriter(Configuration conf, Path file, String codec, List<String> words, Map<String, String> footer)
      throws IOException {
    this.file = file;
    this.footer = Map.copyOf(footer);
    this.rowGroupBytes = ParquetOutputFormat.getLongBlockSize(conf);
    this.pageBytes = ParquetOutputFormat.getPageSize(conf);
    this.maxDictionaryBytes = ParquetOutputFormat.getDictionaryPageSize(conf);
    this.properties = ParquetProperties.builder()
        .withPageSize(pageBytes)
        .withDictionaryPageSize(maxDictionaryBytes)
        .withDictionaryEncoding(true)
        .withDictionaryEncoding("cell_id", false)
        .withDictionaryEncoding("sentence", false)
        .withDictionaryEncoding("prompt", false)
        .withDictionaryEncoding("atlas_row", false)
        // Version 1 data pages, Spark's default, and the layout GenesColumnWriter writes.
        .withWriterVersion(ParquetProperties.WriterVersion.PARQUET_1_0)
        .withPageWriteChecksumEnabled(ParquetOutputFormat.getPageWriteChecksumEnabled(conf))
        .build();
    this.codecs = new CodecFactory(conf, pageBytes);
    this.compressor = codecs.getCompressor(codecName(codec));
    // One contiguous copy of every word, each gene's value a slice of it: equal genes are one object.
    byte[][] utf8 = new byte[words.size()][];
    int total = 0;
    for (int g = 0; g < utf8.length; g++) {
      utf8[g] = words.get(g).getBytes(StandardCharsets.UTF_8);
      total += utf8[g].length;
    }
    byte[] all = new byte[total];
    this.geneValues = new Binary[utf8.length];
    this.geneBytes = utf8;
    int at = 0;
    for (int g = 0; g < utf8.length; g++) {
      System.arraycopy(utf8[g], 0, all, at, utf8[g].length);
      geneValues[g] = Binary.fromConstantByteArray(all, at, utf8[g].length);
      at += utf8[g].length;
    }
    this.fileWriter = new ParquetFileWriter(HadoopOutputFile.fromPath(file, conf), PARQUET_SCHEMA,
        ParquetFileWriter.Mode.OVERWRITE, rowGroupBytes,
        conf.getInt(ParquetOutputFormat.MAX_PADDING_BYTES, ParquetWriter.MAX_PADDING_SIZE_DEFAULT),
        properties.getColumnIndexTruncateLength(), properties.getStatisticsTruncateLength(),
        properties.getPageWriteChecksumEnabled());
    fileWriter.start();
    startRowGroup();
  }

  /** Spark's codec names (none, uncompressed, snappy, gzip, lz4, zstd, ...) as Parquet's. */
  static CompressionCodecName codecName(String sparkName) {
    String name = sparkName.toLowerCase(Locale.ROOT);
    return name.equals("none") ? CompressionCodecName.UNCOMPRESSED : CompressionCodecName.fromConf(name);
  }

  /** Appends the cursor's current cell. */
  void write(SentenceCursor c) throws IOException {
    cellId.write(Binary.fromString(c.cellId()), 0, 0);
    optional(cellType, c.cellType());
    optional(donor, c.donor());
    optional(tissue, c.tissue());
    int n = c.genes();
    if (rowGenes.length < n) {
      rowGenes = new int[Math.max(n, 2 * rowGenes.length)];
    }
    for (int i = 0; i < n; i++) {
      rowGenes[i] = c.geneColumn(i);
    }
    genes.writeRow(rowGenes, n);
    sentence.write(Binary.fromConstantByteArray(c.sentenceUtf8()), 0, 0);
    prompt.write(Binary.fromConstantByteArray(c.promptUtf8()), 0, 0);
    expressed.write(c.expressedGenes(), 0, 0);
    atlasRow.write(c.atlasRow(), 0, 0);
    store.endRecord();
    rows++;
    if (++rowsInGroup % SIZE_CHECK_EVERY == 0 && store.getBufferedSize() + genes.bufferedBytes() >= rowGroupBytes) {
      flushRowGroup();
      startRowGroup();
    }
  }

  long rows() {
    return rows;
  }

  Path file() {
    return file;
  }

  /** Writes the last row group and the footer. A file without rows has no row group, as Parquet writes it. */
  @Override
  public void close() throws IOException {
    try {
      if (rowsInGroup > 0) {
        flushRowGroup();
      }
      fileWriter.end(footer);
    } finally {
      codecs.release();
    }
  }

  private static void optional(ColumnWriter column, String value) {
    if (value == null) {
      column.writeNull(0, 0);
    } else {
      column.write(Binary.fromString(value), 0, 1);
    }
  }

  private void startRowGroup() {
    pages = new ColumnChunkPageWriteStore(compressor, PARQUET_SCHEMA, allocator,
        properties.getColumnIndexTruncateLength(), properties.getPageWriteChecksumEnabled());
    store = properties.newColumnWriteStore(OTHER_COLUMNS, pages);
    List<ColumnDescriptor> columns = OTHER_COLUMNS.getColumns();
    cellId = store.getColumnWriter(columns.get(0));
    cellType = store.getColumnWriter(columns.get(1));
    donor = store.getColumnWriter(columns.get(2));
    tissue = store.getColumnWriter(columns.get(3));
    genes = new GenesColumnWriter(pages.getPageWriter(GENES), GENES.getPrimitiveType(), geneValues, geneBytes,
        pageBytes, maxDictionaryBytes, allocator);
    sentence = store.getColumnWriter(columns.get(4));
    prompt = store.getColumnWriter(columns.get(5));
    expressed = store.getColumnWriter(columns.get(6));
    atlasRow = store.getColumnWriter(columns.get(7));
    rowsInGroup = 0;
  }

  private void flushRowGroup() throws IOException {
    fileWriter.startBlock(rowsInGroup);
    store.flush();
    genes.finish();
    pages.flushToFileWriter(fileWriter);
    fileWriter.endBlock();
    // No store.close(): it flushes again. The next row group gets new stores, as Parquet's own writer does.
  }
}
