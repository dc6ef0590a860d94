package org.cellcircuits.ml;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.sentences.AtlasMeta;
import org.cellcircuits.sentences.AtlasOptions;
import org.cellcircuits.sentences.AtlasReader;
import org.cellcircuits.sentences.AtlasReaders;
import org.cellcircuits.sentences.CellBlock;

/**
 * The first cells of an atlas ({@code .h5ad}, a Matrix Market folder or a Parquet long table, as the
 * {@code sentences} stage reads them) as the DataFrame {@link CellSentenceTransformer} takes: {@code cell_id},
 * {@code cell_type} (null where the atlas has no such column), {@code atlas_row} (0..n-1 in atlas order, so the
 * default {@code c2s} tie order applies) and {@code expression} (a sparse {@code ml.linalg} Vector of the cell's stored
 * counts over {@link #geneNames}). The cells are read on the driver: this is for notebooks and samples of an atlas;
 * the {@code sentences} stage reads a whole atlas in parallel.
 */
public final class AtlasVectors {
  public static final StructType SCHEMA = new StructType()
      .add("cell_id", DataTypes.StringType, false)
      .add("cell_type", DataTypes.StringType, true)
      .add("atlas_row", DataTypes.LongType, false)
      .add("expression", SQLDataTypes.VectorType(), false);

  private AtlasVectors() {}

  /** The atlas's gene symbols, in the order of the expression vectors' indices. */
  public static String[] geneNames(String path) throws IOException {
    try (AtlasReader reader = AtlasReaders.open(path, AtlasOptions.defaults())) {
      return reader.meta().geneSymbols().toArray(new String[0]);
    }
  }

  /** The atlas's first {@code maxCells} cells (all when it has fewer), in {@code partitions} partitions. */
  public static Dataset<Row> read(SparkSession spark, String path, long maxCells, int partitions)
      throws IOException {
    if (maxCells < 1 || partitions < 1) {
      throw new IllegalArgumentException(String.format("atlas %s: maxCells is %d and partitions %d; both must be >= 1",
          path, maxCells, partitions));
    }
    AtlasOptions options = AtlasOptions.defaults();
    List<Row> rows = new ArrayList<>();
    try (AtlasReader reader = AtlasReaders.open(path, options)) {
      AtlasMeta meta = reader.meta();
      int genes = meta.nGenes();
      CellBlock block = reader.read(0, Math.min(maxCells, meta.nCells()));
      String[] types = options.cellTypeColumn() == null ? null : block.obs().get(options.cellTypeColumn());
      int[] ip = block.indptr();
      for (int r = 0; r < block.rows(); r++) {
        int[] idx = Arrays.copyOfRange(block.indices(), ip[r], ip[r + 1]);
        double[] val = Arrays.copyOfRange(block.values(), ip[r], ip[r + 1]);
        rows.add(RowFactory.create(block.cellIds()[r], types == null ? null : types[r], block.firstRow() + r,
            Vectors.sparse(genes, idx, val)));
      }
    }
    return spark.createDataFrame(rows, SCHEMA).repartition(partitions);
  }
}
