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
import org.apache.parquet.column.Encoding;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.column.page.DictionaryPage;
import org.apache.parquet.column.values.ValuesWriter;
import org.apache.parquet.column.values.dictionary.DictionaryValuesWriter;
import org.apache.parquet.column.values.dictionary.IntList;
import org.apache.parquet.column.values.factory.DefaultValuesWriterFactory;
import org.apache.parquet.column.values.factory.ValuesWriterFactory;
import org.apache.parquet.column.values.plain.PlainValuesWriter;
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
 * writer would make from {@link SentencesStage#SCHEMA} (same Parquet schema, Spark's schema in the footer, the
 * same codec and sizes), without going through Spark rows.
 *
 * <p>Why: the 200 genes of every cell are 200 strings in the {@code genes} column. Through Spark, each of them is
 * copied into an UnsafeRow, copied out again, wrapped, passed through Parquet's record assembly (a group start
 * and end per list element) and looked up in the column's dictionary by hashing its bytes; that was more than
 * half of the stage's CPU (JFR, jobs/bench/sentences). Here each gene is written once as a pre-made value, and
 * its dictionary id comes from an array indexed by gene column ({@link GeneDictionary}), so the {@code genes}
 * column costs a few array operations per gene.
 *
 * <p>Dictionary encoding is off for the columns whose values are unique per cell (cell_id, sentence, prompt,
 * atlas_row), where Parquet would build a dictionary only to drop it. Not thread-safe; one writer per task.
 */
final class SentenceParquetWriter implements Closeable {
  /** The Parquet schema Spark 3.5 writes for {@link SentencesStage#SCHEMA} (non-legacy list layout). */
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
  private static final String[] GENES_PATH = {"genes", "list", "element"};
  /** Rows between checks of the buffered size against the row-group size (the check walks every column). */
  private static final int SIZE_CHECK_EVERY = 64;

  private final Path file;
  private final ParquetProperties properties;
  private final CodecFactory.BytesCompressor compressor;
  private final ByteBufferAllocator allocator = new HeapByteBufferAllocator();
  private final ParquetFileWriter fileWriter;
  private final long rowGroupBytes;
  private final Binary[] geneValues;
  private final Map<String, String> footer;
  private final CodecFactory codecs;

  private ColumnChunkPageWriteStore pages;
  private ColumnWriteStore store;
  private GeneDictionary geneDictionary;
  private ColumnWriter cellId;
  private ColumnWriter cellType;
  private ColumnWriter donor;
  private ColumnWriter tissue;
  private ColumnWriter genes;
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
    int pageBytes = ParquetOutputFormat.getPageSize(conf);
    this.properties = ParquetProperties.builder()
        .withPageSize(pageBytes)
        .withDictionaryPageSize(ParquetOutputFormat.getDictionaryPageSize(conf))
        .withDictionaryEncoding(true)
        .withDictionaryEncoding("cell_id", false)
        .withDictionaryEncoding("sentence", false)
        .withDictionaryEncoding("prompt", false)
        .withDictionaryEncoding("atlas_row", false)
        // Version 1 data pages, Spark's default: GeneDictionary labels its pages PLAIN_DICTIONARY, as v1 does.
        .withWriterVersion(ParquetProperties.WriterVersion.PARQUET_1_0)
        .withPageWriteChecksumEnabled(ParquetOutputFormat.getPageWriteChecksumEnabled(conf))
        .withValuesWriterFactory(new Factory())
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
    if (n == 0) {
      genes.writeNull(0, 0); // an empty list: the repeated level is absent
    } else {
      for (int i = 0; i < n; i++) {
        int g = c.geneColumn(i);
        geneDictionary.next(g);
        genes.write(geneValues[g], i == 0 ? 0 : 1, 1);
      }
    }
    sentence.write(Binary.fromConstantByteArray(c.sentenceUtf8()), 0, 0);
    prompt.write(Binary.fromConstantByteArray(c.promptUtf8()), 0, 0);
    expressed.write(c.expressedGenes(), 0, 0);
    atlasRow.write(c.atlasRow(), 0, 0);
    store.endRecord();
    rows++;
    if (++rowsInGroup % SIZE_CHECK_EVERY == 0 && store.getBufferedSize() >= rowGroupBytes) {
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
    store = properties.newColumnWriteStore(PARQUET_SCHEMA, pages);
    List<ColumnDescriptor> columns = PARQUET_SCHEMA.getColumns();
    cellId = store.getColumnWriter(columns.get(0));
    cellType = store.getColumnWriter(columns.get(1));
    donor = store.getColumnWriter(columns.get(2));
    tissue = store.getColumnWriter(columns.get(3));
    genes = store.getColumnWriter(columns.get(4));
    sentence = store.getColumnWriter(columns.get(5));
    prompt = store.getColumnWriter(columns.get(6));
    expressed = store.getColumnWriter(columns.get(7));
    atlasRow = store.getColumnWriter(columns.get(8));
    rowsInGroup = 0;
  }

  private void flushRowGroup() throws IOException {
    fileWriter.startBlock(rowsInGroup);
    store.flush();
    pages.flushToFileWriter(fileWriter);
    fileWriter.endBlock();
    // No store.close(): it flushes again. The next row group gets new stores, as Parquet's own writer does.
  }

  /** Parquet's own writers for every column but genes, whose writer is a {@link GeneDictionary}. */
  private final class Factory implements ValuesWriterFactory {
    private final DefaultValuesWriterFactory defaults = new DefaultValuesWriterFactory();
    private ParquetProperties props;

    @Override
    public void initialize(ParquetProperties p) {
      this.props = p;
      defaults.initialize(p);
    }

    @Override
    public ValuesWriter newValuesWriter(ColumnDescriptor column) {
      if (java.util.Arrays.equals(column.getPath(), GENES_PATH)) {
        geneDictionary = new GeneDictionary(geneValues, props.getDictionaryPageSizeThreshold(), allocator);
        return geneDictionary;
      }
      return defaults.newValuesWriter(column);
    }
  }

  /**
   * Dictionary encoding of the genes column with ids looked up by gene column: the writer names the gene
   * ({@link #next}) before handing Parquet its value, which must be that gene's pre-made value. Ids are given in
   * order of first use in the column chunk, as Parquet's own dictionary writer gives them, and the dictionary
   * page holds those genes' words. It never falls back to plain encoding: the dictionary is at most the atlas's
   * gene symbols.
   */
  static final class GeneDictionary extends DictionaryValuesWriter {
    private final Binary[] values;
    private final int[] idOfGene;
    private final int[] geneOfId;
    private int size;
    private int nextGene = -1;

    GeneDictionary(Binary[] values, int maxDictionaryBytes, ByteBufferAllocator allocator) {
      super(maxDictionaryBytes, Encoding.PLAIN_DICTIONARY, Encoding.PLAIN_DICTIONARY, allocator);
      this.values = values;
      this.idOfGene = new int[values.length];
      java.util.Arrays.fill(idOfGene, -1);
      this.geneOfId = new int[values.length];
    }

    /** The gene column of the next value written. */
    void next(int gene) {
      nextGene = gene;
    }

    @Override
    public void writeBytes(Binary v) {
      int g = nextGene;
      if (g < 0 || v != values[g]) {
        throw new IllegalStateException("genes column: a value was written without naming its gene column first");
      }
      nextGene = -1;
      int id = idOfGene[g];
      if (id < 0) {
        id = size++;
        idOfGene[g] = id;
        geneOfId[id] = g;
        dictionaryByteSize += 4L + v.length();
      }
      encodedValues.add(id);
    }

    @Override
    public boolean shouldFallBack() {
      return false;
    }

    @Override
    public DictionaryPage toDictPageAndClose() {
      if (lastUsedDictionarySize == 0) {
        return null;
      }
      PlainValuesWriter page = new PlainValuesWriter(lastUsedDictionaryByteSize, maxDictionaryByteSize, allocator);
      for (int id = 0; id < lastUsedDictionarySize; id++) {
        page.writeBytes(values[geneOfId[id]]);
      }
      return dictPage(page);
    }

    @Override
    public int getDictionarySize() {
      return size;
    }

    @Override
    protected void clearDictionaryContent() {
      for (int id = 0; id < size; id++) {
        idOfGene[geneOfId[id]] = -1;
      }
      size = 0;
    }

    @Override
    protected void fallBackDictionaryEncodedData(ValuesWriter writer) {
      IntList.IntIterator ids = encodedValues.iterator();
      while (ids.hasNext()) {
        writer.writeBytes(values[geneOfId[ids.next()]]);
      }
    }
  }
}
