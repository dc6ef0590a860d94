package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDManager;
import org.apache.hadoop.conf.Configuration;
import org.cellcircuits.harvest.ActivationBatch;
import org.cellcircuits.harvest.ActivationBatches;
import org.cellcircuits.harvest.ActivationStore;

/**
 * A harvested layer (or a shard of it) as the trainer's batch stream: shuffled epochs of {@link ActivationStore}, one
 * after another, each with its own seed, up to {@code maxEpochs}. An epoch's last batch may be short (the trainer
 * divides by the rows it got). For a transcoder the target is {@code mlp_out}; for an SAE it is {@code mlp_in}
 * itself. A row that makes training stop (a non-finite value) is named by its cell and token.
 *
 * <p>The stream is a pure function of the store's files, the batch size, the shuffle buffer and the seed, so a resumed
 * run that skips {@link #tokensSeen} rows sees the same batches again.
 */
public final class HarvestedBatches implements TrainingBatches, AutoCloseable {
  /** Spreads epoch seeds so that epoch e of seed s is not epoch e-1 of seed s+1. */
  private static final long EPOCH_SEED_STRIDE = 0x9E3779B97F4A7C15L;

  private final ActivationStore store;
  private final Configuration conf;
  private final int batchSize;
  private final int shuffleBuffer;
  private final long seed;
  private final int maxEpochs;
  private final boolean autoencoding;
  private final NDManager manager;
  private ActivationBatches epoch;
  private int epochIndex = -1;
  private long tokensSeen;

  /**
   * @param kind what the target is
   * @param maxEpochs passes over the data at most (>= 1); the stream ends after them
   */
  public HarvestedBatches(ActivationStore store, Configuration conf, int batchSize, int shuffleBuffer, long seed,
      int maxEpochs, TranscoderKind kind, NDManager parent) {
    if (maxEpochs < 1) {
      throw new IllegalArgumentException("cellcircuits.train.max-epochs is " + maxEpochs + "; must be >= 1");
    }
    if (store.rows() == 0) {
      throw new IllegalArgumentException(String.format("%s holds no rows to train on", store));
    }
    this.store = store;
    this.conf = conf;
    this.batchSize = batchSize;
    this.shuffleBuffer = shuffleBuffer;
    this.seed = seed;
    this.maxEpochs = maxEpochs;
    this.autoencoding = kind == TranscoderKind.SAE;
    this.manager = parent.newSubManager();
  }

  @Override
  public TrainingBatch next(NDManager into) {
    while (epoch == null || !epoch.hasNext()) {
      if (epoch != null) {
        epoch.close();
        epoch = null;
      }
      if (epochIndex + 1 >= maxEpochs) {
        return null;
      }
      epochIndex++;
      epoch = store.batches(manager, conf, batchSize, shuffleBuffer, seed + epochIndex * EPOCH_SEED_STRIDE);
    }
    ActivationBatch b = epoch.next();
    b.mlpIn().attach(into);
    b.mlpOut().attach(into);
    tokensSeen += b.rows();
    ActivationBatch.Origins origins = b.origins();
    java.util.function.IntFunction<String> name =
        i -> ActivationStore.describeRow(conf, origins.file(i), origins.rowInFile(i));
    if (autoencoding) {
      b.mlpOut().close();
      return TrainingBatch.autoencoding(b.mlpIn(), name);
    }
    return new TrainingBatch(b.mlpIn(), b.mlpOut(), name);
  }

  @Override
  public long tokensSeen() {
    return tokensSeen;
  }

  /** Epochs begun so far (1 during the first pass). */
  public int epochsBegun() {
    return epochIndex + 1;
  }

  @Override
  public void close() {
    if (epoch != null) {
      epoch.close();
    }
    manager.close();
  }
}
