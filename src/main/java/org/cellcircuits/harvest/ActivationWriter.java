package org.cellcircuits.harvest;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;

/**
 * Writes one Parquet file of {@link ActivationSchema} rows. Rows are handed over field by field
 * ({@link #write}), so writing a token allocates nothing but what Parquet copies into its pages.
 */
public final class ActivationWriter implements AutoCloseable {
  private final ParquetWriter<Row> writer;
  private final Row row = new Row();
  private final int width;
  private final Path path;
  private long rows;

  /**
   * @param path file to create (replaced if present: a retried task writes the same name)
   * @param dModel vector width; every vector must have {@code 2·dModel} bytes
   */
  public ActivationWriter(Path path, Configuration conf, int dModel, int layer, VectorFormat format,
      CompressionCodecName codec, long rowGroupBytes) throws IOException {
    this.path = path;
    this.width = VectorFormat.BYTES_PER_VALUE * dModel;
    Map<String, String> meta = new HashMap<>();
    meta.put(ActivationSchema.META_D_MODEL, Integer.toString(dModel));
    meta.put(ActivationSchema.META_FORMAT, format.id());
    meta.put(ActivationSchema.META_LAYER, Integer.toString(layer));
    this.writer = new Builder(HadoopOutputFile.fromPath(path, conf), ActivationSchema.schema(dModel), meta)
        .withConf(conf)
        .withWriteMode(ParquetFileWriter.Mode.OVERWRITE)
        .withCompressionCodec(codec)
        .withRowGroupSize(rowGroupBytes)
        .withPageSize(1 << 20)
        .withWriterVersion(ParquetProperties.WriterVersion.PARQUET_1_0)
        .withDictionaryEncoding(true)
        .withDictionaryEncoding(ActivationSchema.MLP_IN, false)
        .withDictionaryEncoding(ActivationSchema.MLP_OUT, false)
        .build();
  }

  /**
   * Appends one token.
   *
   * @param cellId the cell, as Parquet bytes (make it once per cell with {@link Binary#fromString})
   * @param geneSymbol the gene, or null for a token outside every gene
   * @param geneRank the gene's rank, ignored when {@code geneSymbol} is null
   * @param mlpIn {@code 2·d_model} bytes at {@code inOffset}
   * @param mlpOut {@code 2·d_model} bytes at {@code outOffset}
   */
  public void write(Binary cellId, int pos, int tokenId, Binary geneSymbol, int geneRank,
      byte[] mlpIn, int inOffset, byte[] mlpOut, int outOffset) throws IOException {
    row.cellId = cellId;
    row.pos = pos;
    row.tokenId = tokenId;
    row.geneSymbol = geneSymbol;
    row.geneRank = geneRank;
    // Reused buffers: Parquet copies the bytes into its page, and copies a "reused" Binary it keeps for statistics.
    row.mlpIn = Binary.fromReusedByteArray(mlpIn, inOffset, width);
    row.mlpOut = Binary.fromReusedByteArray(mlpOut, outOffset, width);
    writer.write(row);
    rows++;
  }

  public long rows() {
    return rows;
  }

  public Path path() {
    return path;
  }

  /** Bytes written so far (exact after {@link #close()}). */
  public long dataSize() {
    return writer.getDataSize();
  }

  @Override
  public void close() throws IOException {
    writer.close();
  }

  /** The fields of one row, filled in place. */
  static final class Row {
    Binary cellId;
    int pos;
    int tokenId;
    Binary geneSymbol;
    int geneRank;
    Binary mlpIn;
    Binary mlpOut;
  }

  private static final class Builder extends ParquetWriter.Builder<Row, Builder> {
    private final MessageType schema;
    private final Map<String, String> meta;

    Builder(OutputFile file, MessageType schema, Map<String, String> meta) {
      super(file);
      this.schema = schema;
      this.meta = meta;
    }

    @Override
    protected Builder self() {
      return this;
    }

    @Override
    protected WriteSupport<Row> getWriteSupport(Configuration conf) {
      return new RowWriteSupport(schema, meta);
    }
  }

  private static final class RowWriteSupport extends WriteSupport<Row> {
    private final MessageType schema;
    private final Map<String, String> meta;
    private RecordConsumer out;

    RowWriteSupport(MessageType schema, Map<String, String> meta) {
      this.schema = schema;
      this.meta = meta;
    }

    @Override
    public WriteContext init(Configuration configuration) {
      return new WriteContext(schema, meta);
    }

    @Override
    public void prepareForWrite(RecordConsumer recordConsumer) {
      this.out = recordConsumer;
    }

    @Override
    public void write(Row r) {
      out.startMessage();
      field(0, ActivationSchema.CELL_ID);
      out.addBinary(r.cellId);
      end(0, ActivationSchema.CELL_ID);
      field(1, ActivationSchema.POS);
      out.addInteger(r.pos);
      end(1, ActivationSchema.POS);
      field(2, ActivationSchema.TOKEN_ID);
      out.addInteger(r.tokenId);
      end(2, ActivationSchema.TOKEN_ID);
      if (r.geneSymbol != null) {
        field(3, ActivationSchema.GENE_SYMBOL);
        out.addBinary(r.geneSymbol);
        end(3, ActivationSchema.GENE_SYMBOL);
        field(4, ActivationSchema.GENE_RANK);
        out.addInteger(r.geneRank);
        end(4, ActivationSchema.GENE_RANK);
      }
      field(5, ActivationSchema.MLP_IN);
      out.addBinary(r.mlpIn);
      end(5, ActivationSchema.MLP_IN);
      field(6, ActivationSchema.MLP_OUT);
      out.addBinary(r.mlpOut);
      end(6, ActivationSchema.MLP_OUT);
      out.endMessage();
    }

    private void field(int index, String name) {
      out.startField(name, index);
    }

    private void end(int index, String name) {
      out.endField(name, index);
    }
  }
}
