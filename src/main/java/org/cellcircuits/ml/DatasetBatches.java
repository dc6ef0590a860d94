package org.cellcircuits.ml;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Iterator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.cellcircuits.transcoder.TrainingBatch;
import org.cellcircuits.transcoder.TrainingBatches;

/**
 * A DataFrame's rows as the trainer's batch stream, in the Dataset's order (partition by partition, through
 * {@code toLocalIterator}, so the driver holds one partition at a time), epoch after epoch up to {@code maxEpochs};
 * an epoch's last batch may be short, as with the harvest's batches. Each epoch re-runs the Dataset's plan: cache it
 * when that is costly, and keep its order deterministic (a seeded shuffle, not {@code repartition}), or the stream,
 * and so the weights, change from run to run.
 */
final class DatasetBatches implements TrainingBatches {
  private final Dataset<Row> rows; // (input, target) or (input)
  private final int dIn;
  private final int dOut;
  private final int batchSize;
  private final int maxEpochs;
  private final boolean autoencoding;
  private final String inputCol;
  private final String targetCol;
  private Iterator<Row> epoch;
  private int epochs;
  private long seen;

  DatasetBatches(Dataset<Row> rows, String inputCol, String targetCol, int dIn, int dOut, int batchSize,
                 int maxEpochs, boolean autoencoding) {
    this.rows = rows;
    this.inputCol = inputCol;
    this.targetCol = targetCol;
    this.dIn = dIn;
    this.dOut = dOut;
    this.batchSize = batchSize;
    this.maxEpochs = maxEpochs;
    this.autoencoding = autoencoding;
  }

  @Override
  public TrainingBatch next(NDManager manager) {
    while (epoch == null || !epoch.hasNext()) {
      if (epochs >= maxEpochs) {
        return null;
      }
      epochs++;
      epoch = rows.toLocalIterator();
    }
    float[] x = new float[batchSize * dIn];
    float[] y = autoencoding ? null : new float[batchSize * dOut];
    int n = 0;
    while (n < batchSize && epoch.hasNext()) {
      Row r = epoch.next();
      ActivationValues.read(r, 0, inputCol, dIn, x, n * dIn);
      if (!autoencoding) {
        ActivationValues.read(r, 1, targetCol, dOut, y, n * dOut);
      }
      n++;
    }
    long first = seen;
    seen += n;
    NDArray in = manager.create(java.nio.FloatBuffer.wrap(x, 0, n * dIn), new Shape(n, dIn));
    java.util.function.IntFunction<String> name = i -> String.format("row %d of the stream (epoch %d)", first + i,
        epochs);
    if (autoencoding) {
      return TrainingBatch.autoencoding(in, name);
    }
    return new TrainingBatch(in, manager.create(java.nio.FloatBuffer.wrap(y, 0, n * dOut), new Shape(n, dOut)),
        name);
  }

  @Override
  public long tokensSeen() {
    return seen;
  }
}
