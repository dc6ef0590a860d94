package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.Arrays;
import org.apache.parquet.bytes.ByteBufferAllocator;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.bytes.BytesUtils;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.column.page.DictionaryPage;
import org.apache.parquet.column.page.PageWriter;
import org.apache.parquet.column.statistics.Statistics;
import org.apache.parquet.column.values.plain.PlainValuesWriter;
import org.apache.parquet.column.values.rle.RunLengthBitPackingHybridEncoder;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.PrimitiveType;

/**
 * The {@code genes} column ({@code required group genes (LIST) { repeated group list { required binary element
 * (STRING) } }}) of one row group, written as Parquet v1 data pages straight to the column's page writer, without
 * Parquet's per-value column writer.
 *
 * <p>Why: every cell has 200 genes. Parquet's column writer handles each as a value of its own: a repetition and
 * a definition level through two encoders, a dictionary look-up, and two byte-wise string comparisons for the page
 * statistics. That was ~20 µs of the ~35 µs a cell's row cost to write (SentenceTaskBench). Here a cell's genes
 * are appended as dictionary ids (an array look-up by gene column); the levels follow from each cell's gene count,
 * and a page's min and max compare each gene once per page (in Parquet's order for strings: unsigned bytes),
 * both computed when the page is closed.
 *
 * <p>The pages are those Parquet's writer makes for the column, in Spark's default v1 layout: repetition and
 * definition levels RLE/bit-packed with bit width 1, each after its 4-byte length; then the ids as
 * PLAIN_DICTIONARY (one byte of bit width, then RLE/bit-packed). A cell with no genes is an empty list: one level
 * pair (0, 0), no value, counted as a null in the statistics, as Parquet counts it. The dictionary holds the genes
 * of this row group in order of first use. Not thread-safe.
 */
final class GenesColumnWriter {
  private final PageWriter pages;
  private final PrimitiveType elementType;
  private final Binary[] words;
  private final byte[][] utf8;
  /** Per gene, the last page it was seen in (pages counted from 1), so each is compared once per page. */
  private final int[] pageOfGene;
  private int pageNumber;
  private final int pageBytes;
  private final int maxDictionaryBytes;
  private final ByteBufferAllocator allocator;

  private final int[] idOfGene;
  private final int[] geneOfId;
  private int dictionarySize;
  private long dictionaryBytes;

  /** The open page: dictionary ids of its values, and each of its rows' gene count. */
  private int[] ids = new int[1 << 16];
  private int values;
  private int[] genesPerRow = new int[1 << 10];
  private int rows;
  private long bytesInClosedPages;

  /**
   * @param pages              the column's page writer in the row group's page store
   * @param elementType        the {@code element} column's type (for its statistics)
   * @param words              each gene column's value, as written
   * @param utf8               each gene column's value as bytes
   * @param pageBytes          size at which a data page is closed ({@code parquet.page.size})
   * @param maxDictionaryBytes size the dictionary page may reach ({@code parquet.dictionary.page.size})
   */
  GenesColumnWriter(PageWriter pages, PrimitiveType elementType, Binary[] words, byte[][] utf8, int pageBytes,
                    int maxDictionaryBytes, ByteBufferAllocator allocator) {
    this.pages = pages;
    this.elementType = elementType;
    this.words = words;
    this.utf8 = utf8;
    this.pageOfGene = new int[words.length];
    this.pageBytes = pageBytes;
    this.maxDictionaryBytes = maxDictionaryBytes;
    this.allocator = allocator;
    this.idOfGene = new int[words.length];
    Arrays.fill(idOfGene, -1);
    this.geneOfId = new int[words.length];
  }

  /** Appends one row: the list of genes {@code genes[0, n)} (gene columns, in sentence order). */
  void writeRow(int[] genes, int n) throws IOException {
    if (values + n > ids.length) {
      ids = Arrays.copyOf(ids, Math.max(values + n, 2 * ids.length));
    }
    if (rows == genesPerRow.length) {
      genesPerRow = Arrays.copyOf(genesPerRow, 2 * rows);
    }
    int[] out = ids;
    int at = values;
    for (int i = 0; i < n; i++) {
      int g = genes[i];
      int id = idOfGene[g];
      if (id < 0) {
        id = newId(g);
      }
      out[at++] = id;
    }
    values = at;
    genesPerRow[rows++] = n;
    if (openPageBytes() >= pageBytes) {
      closePage();
    }
  }

  /** Bytes buffered for the row group so far (closed pages as encoded, the open page as estimated). */
  long bufferedBytes() {
    return bytesInClosedPages + openPageBytes() + dictionaryBytes;
  }

  /** Writes the open page and the dictionary page; the column chunk is then complete. */
  void finish() throws IOException {
    if (rows > 0) {
      closePage();
    }
    if (dictionarySize > 0) {
      // At most every gene symbol of the atlas, so an int; never cut back to plain values as Parquet's writer may.
      int bytes = Math.toIntExact(dictionaryBytes);
      PlainValuesWriter page = new PlainValuesWriter(bytes, Math.max(bytes, maxDictionaryBytes), allocator);
      try {
        for (int id = 0; id < dictionarySize; id++) {
          page.writeBytes(words[geneOfId[id]]);
        }
        pages.writeDictionaryPage(new DictionaryPage(page.getBytes(), dictionarySize, Encoding.PLAIN_DICTIONARY));
      } finally {
        page.close();
      }
    }
  }

  private int newId(int gene) {
    int id = dictionarySize++;
    idOfGene[gene] = id;
    geneOfId[id] = gene;
    dictionaryBytes += 4L + words[gene].length();
    return id;
  }

  private long openPageBytes() {
    // Ids bit-packed at the dictionary's width, plus about one bit per level of each kind.
    return ((long) values * BytesUtils.getWidthFromMaxInt(Math.max(0, dictionarySize - 1)) + 2L * values) / 8
        + rows;
  }

  private void closePage() throws IOException {
    int bitWidth = BytesUtils.getWidthFromMaxInt(Math.max(0, dictionarySize - 1));
    int levels = 0;
    int emptyRows = 0;
    RunLengthBitPackingHybridEncoder repetition = encoder(1);
    RunLengthBitPackingHybridEncoder definition = encoder(1);
    RunLengthBitPackingHybridEncoder idEncoder = encoder(bitWidth);
    try {
      for (int r = 0; r < rows; r++) {
        int n = genesPerRow[r];
        if (n == 0) {
          repetition.writeInt(0);
          definition.writeInt(0);
          levels++;
          emptyRows++;
          continue;
        }
        repetition.writeInt(0);
        for (int i = 1; i < n; i++) {
          repetition.writeInt(1);
        }
        for (int i = 0; i < n; i++) {
          definition.writeInt(1);
        }
        levels += n;
      }
      int page = ++pageNumber;
      int minGene = -1;
      int maxGene = -1;
      int[] pageIds = ids;
      for (int i = 0; i < values; i++) {
        int id = pageIds[i];
        idEncoder.writeInt(id);
        int gene = geneOfId[id];
        if (pageOfGene[gene] != page) {
          pageOfGene[gene] = page;
          if (minGene < 0 || Arrays.compareUnsigned(utf8[gene], utf8[minGene]) < 0) {
            minGene = gene;
          }
          if (maxGene < 0 || Arrays.compareUnsigned(utf8[gene], utf8[maxGene]) > 0) {
            maxGene = gene;
          }
        }
      }
      Statistics<?> statistics = Statistics.createStats(elementType);
      if (values > 0) {
        statistics.updateStats(words[minGene]);
        statistics.updateStats(words[maxGene]);
      }
      statistics.incrementNumNulls(emptyRows);
      BytesInput repetitionBytes = repetition.toBytes();
      BytesInput definitionBytes = definition.toBytes();
      BytesInput data = BytesInput.concat(
          BytesInput.fromInt((int) repetitionBytes.size()), repetitionBytes,
          BytesInput.fromInt((int) definitionBytes.size()), definitionBytes,
          BytesInput.from(new byte[] {(byte) bitWidth}), idEncoder.toBytes());
      bytesInClosedPages += data.size();
      pages.writePage(data, levels, rows, statistics, Encoding.RLE, Encoding.RLE, Encoding.PLAIN_DICTIONARY);
    } finally {
      repetition.close();
      definition.close();
      idEncoder.close();
    }
    values = 0;
    rows = 0;
  }

  private RunLengthBitPackingHybridEncoder encoder(int bitWidth) {
    return new RunLengthBitPackingHybridEncoder(bitWidth, 64 * 1024, Math.max(pageBytes, 64 * 1024), allocator);
  }
}
