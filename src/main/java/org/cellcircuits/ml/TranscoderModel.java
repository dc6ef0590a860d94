package org.cellcircuits.ml;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.transcoder.ActivationScaling;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderStore;
import org.cellcircuits.transcoder.TrainingProvenance;
import scala.Option;

/**
 * One layer's trained transcoder (or SAE) as a Spark ML {@link Model}: {@code transform} adds the active features
 * ({@code features}, a sparse Vector of d_sae: {@link Transcoder#encode}) and the MLP-output estimate
 * ({@code reconstruction}, dense, d_out: {@link Transcoder#decode(NDArray, NDArray)}, skip path included), computed by
 * the project's {@link Transcoder} on each partition (CPU, 256 rows a batch). Immutable: it only transforms.
 *
 * <p>Saved in MLlib's layout: {@code metadata/} (class, uid, Spark version, params) and {@code data/}, which is the
 * train stage's transcoder folder itself ({@link TranscoderStore#save}: {@code weights.safetensors} +
 * SAELens {@code cfg.json}), so {@code path/data} loads in SAELens and circuit-tracer as a train-stage folder does,
 * and {@link #fromFolder} makes a model of any train-stage folder.
 *
 * <p>The weights are held folded (the activation scaling multiplied in), as {@link Transcoder#save} writes them, so a
 * saved and loaded model computes exactly what the fitted one did.
 */
public final class TranscoderModel extends Model<TranscoderModel> implements TranscoderParams, MLWritable {
  private static final long serialVersionUID = 1L;
  private static final int BATCH_ROWS = 256;

  private final String uid;
  private final Weights weights;
  private final Param<String> inputCol;
  private final Param<String> targetCol;
  private final Param<String> featuresCol;
  private final Param<String> reconstructionCol;

  /** Weights as plain values, for the tasks: config, scaling (folded), provenance, arrays in parameterNames order. */
  record Weights(TranscoderConfig config, ActivationScaling scaling, TrainingProvenance provenance,
                 float[][] values) implements Serializable {
    static Weights of(Transcoder t) {
      try (Transcoder folded = t.folded()) {
        List<String> names = Transcoder.parameterNames(folded.config());
        float[][] v = new float[names.size()][];
        for (int i = 0; i < v.length; i++) {
          v[i] = folded.weight(names.get(i)).toFloatArray();
        }
        return new Weights(folded.config(), folded.scaling(), folded.provenance(), v);
      }
    }

    Transcoder transcoder(Device device) {
      return Transcoder.of(config, scaling, provenance, device, values);
    }
  }

  TranscoderModel(String uid, Weights weights) {
    this.uid = uid;
    // Params take their owner's uid when made, so they are made here, after it is set.
    inputCol = TranscoderParams.inputCol(this);
    targetCol = TranscoderParams.targetCol(this);
    featuresCol = TranscoderParams.featuresCol(this);
    reconstructionCol = TranscoderParams.reconstructionCol(this);
    this.weights = weights;
    setColumnDefaults();
  }

  /** A model of a transcoder folder the train stage wrote ({@code transcoders/layer=L/}), on any Hadoop file system. */
  public static TranscoderModel fromFolder(String uid, String folder, org.apache.hadoop.conf.Configuration conf)
      throws IOException {
    try (Transcoder t = TranscoderStore.load(new Path(folder), conf, Device.cpu())) {
      return new TranscoderModel(uid, Weights.of(t));
    }
  }

  @Override
  public String uid() {
    return uid;
  }

  @Override public Param<String> inputCol() { return inputCol; }
  @Override public Param<String> targetCol() { return targetCol; }
  @Override public Param<String> featuresCol() { return featuresCol; }
  @Override public Param<String> reconstructionCol() { return reconstructionCol; }

  public TranscoderModel setInputCol(String v) { set(inputCol, v); return this; }
  public TranscoderModel setFeaturesCol(String v) { set(featuresCol, v); return this; }
  public TranscoderModel setReconstructionCol(String v) { set(reconstructionCol, v); return this; }

  /** The transcoder's config (shape, hyperparameters, seed). */
  public TranscoderConfig config() {
    return weights.config();
  }

  /** A new {@link Transcoder} with this model's weights on {@code device}; the caller closes it. */
  public Transcoder transcoder(Device device) {
    return weights.transcoder(device);
  }

  @Override
  public StructType transformSchema(StructType schema) {
    return outputSchema(schema);
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    Dataset<Row> df = dataset.toDF();
    int width = df.schema().size();
    int inputAt = df.schema().fieldIndex(getInputCol());
    String column = getInputCol();
    Weights w = weights;
    JavaRDD<Row> rows = df.javaRDD().mapPartitions(it -> new Rows(it, w, width, inputAt, column));
    return df.sparkSession().createDataFrame(rows, out);
  }

  /** A partition's rows with the two columns added, computed BATCH_ROWS rows at a time. */
  private static final class Rows implements Iterator<Row> {
    private final Iterator<Row> in;
    private final Transcoder transcoder;
    private final int width;
    private final int inputAt;
    private final String column;
    private final List<Row> ready = new ArrayList<>();
    private int next;
    private boolean closed;

    Rows(Iterator<Row> in, Weights w, int width, int inputAt, String column) {
      this.in = in;
      this.transcoder = w.transcoder(Device.cpu());
      this.width = width;
      this.inputAt = inputAt;
      this.column = column;
      TaskContext ctx = TaskContext.get();
      if (ctx != null) {
        ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> close());
      }
    }

    @Override
    public boolean hasNext() {
      if (next < ready.size()) {
        return true;
      }
      ready.clear();
      next = 0;
      if (!in.hasNext()) {
        close();
        return false;
      }
      fill();
      return true;
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ready.get(next++);
    }

    private void fill() {
      TranscoderConfig c = transcoder.config();
      List<Row> batch = new ArrayList<>(BATCH_ROWS);
      while (batch.size() < BATCH_ROWS && in.hasNext()) {
        batch.add(in.next());
      }
      int n = batch.size();
      float[] x = new float[n * c.dIn()];
      for (int i = 0; i < n; i++) {
        ActivationValues.read(batch.get(i), inputAt, column, c.dIn(), x, i * c.dIn());
      }
      float[] z;
      float[] y;
      try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
        NDArray xs = m.create(x, new Shape(n, c.dIn()));
        NDArray zs = transcoder.encode(xs);
        z = zs.toFloatArray();
        y = transcoder.decode(zs, xs).toFloatArray();
      }
      for (int i = 0; i < n; i++) {
        Row r = batch.get(i);
        Object[] v = new Object[width + 2];
        for (int k = 0; k < width; k++) {
          v[k] = r.get(k);
        }
        v[width] = features(z, i * c.dSae(), c.dSae());
        double[] rec = new double[c.dOut()];
        for (int k = 0; k < rec.length; k++) {
          rec[k] = y[i * c.dOut() + k];
        }
        v[width + 1] = Vectors.dense(rec);
        ready.add(RowFactory.create(v));
      }
    }

    private void close() {
      if (!closed) {
        closed = true;
        transcoder.close();
      }
    }
  }

  /** The non-zero activations of z[offset, offset + dSae) as a sparse vector. */
  static org.apache.spark.ml.linalg.Vector features(float[] z, int offset, int dSae) {
    int nnz = 0;
    for (int j = 0; j < dSae; j++) {
      nnz += z[offset + j] != 0 ? 1 : 0;
    }
    int[] idx = new int[nnz];
    double[] val = new double[nnz];
    int k = 0;
    for (int j = 0; j < dSae; j++) {
      if (z[offset + j] != 0) {
        idx[k] = j;
        val[k++] = z[offset + j];
      }
    }
    return Vectors.sparse(dSae, idx, val);
  }

  @Override
  public TranscoderModel copy(ParamMap extra) {
    TranscoderModel copied = new TranscoderModel(uid, weights);
    return copyValues(copied, extra).setParent(parent());
  }

  @Override
  public MLWriter write() {
    return new Writer(this);
  }

  @Override
  public void save(String path) throws IOException {
    write().save(path);
  }

  public static MLReader<TranscoderModel> read() {
    return new Reader();
  }

  public static TranscoderModel load(String path) {
    return read().load(path);
  }

  /** metadata/ as MLlib writes it, data/ as the train stage writes a transcoder. */
  private static final class Writer extends MLWriter {
    private final TranscoderModel instance;

    Writer(TranscoderModel instance) {
      this.instance = instance;
    }

    @Override
    public void saveImpl(String path) {
      DefaultParamsWriter.saveMetadata(instance, path, sc(), Option.empty(), Option.empty());
      try (Transcoder t = instance.weights.transcoder(Device.cpu())) {
        TranscoderStore.save(t, new Path(path, "data"), sc().hadoopConfiguration());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static final class Reader extends MLReader<TranscoderModel> {
    @Override
    public TranscoderModel load(String path) {
      DefaultParamsReader.Metadata metadata = DefaultParamsReader.loadMetadata(path, sc(),
          TranscoderModel.class.getName());
      try {
        TranscoderModel model = fromFolder(metadata.uid(), new Path(path, "data").toString(),
            sc().hadoopConfiguration());
        metadata.getAndSetParams(model, Option.empty());
        return model;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
