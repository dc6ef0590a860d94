package org.cellcircuits.runtime;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.conf.Configuration;
import org.cellcircuits.model.CellTypePredictor;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.ModelSettings;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.model.Precision;
import org.cellcircuits.model.PromptTokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models loaded in this JVM, one per (model folder, device, precision). An executor runs many tasks, often
 * several at once; loading the checkpoint per task would read it from disk and copy its weights to the device again
 * every time, so every task of the JVM shares one loaded model (its weights are only read, and every forward pass
 * works in its own native-memory scope). Models stay loaded until the JVM exits.
 */
public final class ExecutorModels {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorModels.class);
  private static final Map<Key, Loaded> MODELS = new ConcurrentHashMap<>();
  private static final AtomicLong LOADS = new AtomicLong();
  private static final String NUM_THREADS = "ai.djl.pytorch.num_threads";
  private static final String NUM_INTEROP_THREADS = "ai.djl.pytorch.num_interop_threads";

  private ExecutorModels() {}

  /** What one cache entry is keyed by. */
  private record Key(String folder, String device, Precision precision) {}

  /**
   * A model and its tokenizers, shared by the tasks of one JVM.
   *
   * @param model the weights on their device
   * @param prompts tokenizes prompts and maps tokens to genes
   * @param answers the same tokenizer for answers and decoding (CellTypePredictor's use)
   * @param specialIds the tokenizer's special token ids (never stored)
   * @param folder the local checkpoint folder
   */
  public record Loaded(GptNeoX model, PromptTokenizer prompts, HuggingFaceTokenizer answers, Set<Long> specialIds,
      Path folder) {
  }

  /**
   * {@link #get(String, String, String, int, Configuration)} for the checkpoint, device and precision of the
   * settings.
   */
  public static Loaded get(ModelSettings model, int cpuThreads, Configuration conf) {
    return get(model.path(), model.device(), model.precision(), cpuThreads, conf);
  }

  /**
   * The model for the calling task: on the GPU Spark assigned the task when {@code device} is {@code auto} and there
   * is one, else as {@code device} says. The first call in a JVM loads it.
   *
   * @param cpuThreads intra-op threads for CPU work (a task's {@code spark.task.cpus}); applied to the calling thread
   *     on every call, and to libtorch's default before it first loads
   */
  public static Loaded get(String location, String device, String precision, int cpuThreads, Configuration conf) {
    // libtorch reads these once, when the engine loads: the first model load in this JVM. Inter-op parallelism is
    // unused by an eager forward, and a pool per task would only oversubscribe the cores.
    if (System.getProperty(NUM_THREADS) == null) {
      System.setProperty(NUM_THREADS, Integer.toString(cpuThreads));
    }
    if (System.getProperty(NUM_INTEROP_THREADS) == null) {
      System.setProperty(NUM_INTEROP_THREADS, "1");
    }
    Device dev = TaskDevice.resolve(device);
    Precision prec = Precision.parse(precision, dev);
    Path folder;
    try {
      folder = ModelFolder.local(location, conf);
    } catch (IOException e) {
      throw new UncheckedIOException(String.format("model %s cannot be read: %s", location, e.getMessage()), e);
    }
    Loaded loaded = MODELS.computeIfAbsent(new Key(folder.toAbsolutePath().toString(), dev.toString(), prec),
        key -> load(location, folder, dev, prec));
    if (!dev.isGpu()) {
      // Sets the calling thread's OpenMP/MKL pool size (libtorch keeps these per thread), so each task's forward
      // uses the cores Spark gave the task and concurrent tasks do not oversubscribe the executor.
      JniUtils.setNumThreads(cpuThreads);
    }
    return loaded;
  }

  private static Loaded load(String location, Path folder, Device device, Precision precision) {
    long t0 = System.nanoTime();
    LOADS.incrementAndGet();
    NeoXConfig config = ModelFolder.checkedConfig(folder);
    GptNeoX model = GptNeoX.load(folder, device, precision);
    try {
      PromptTokenizer prompts = PromptTokenizer.load(folder);
      HuggingFaceTokenizer answers = CellTypePredictor.loadTokenizer(folder);
      LOG.info("model {} loaded on {} in {} ({} layers, d_model {}) in {} ms; intra-op threads {}", location, device,
          precision, config.numLayers(), config.hiddenSize(), (System.nanoTime() - t0) / 1_000_000,
          JniUtils.getNumThreads());
      return new Loaded(model, prompts, answers, ModelFolder.specialTokenIds(folder.resolve("tokenizer.json")),
          folder);
    } catch (IOException e) {
      model.close();
      throw new UncheckedIOException(String.format("model %s: %s", location, e.getMessage()), e);
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** How many times this JVM has loaded a checkpoint (tests: a model is loaded once per JVM, not per task). */
  public static long loads() {
    return LOADS.get();
  }

  /** Closes and forgets every loaded model (tests that load many temporary models). */
  public static synchronized void clear() {
    for (Loaded l : MODELS.values()) {
      l.prompts().close();
      l.answers().close();
      l.model().close();
    }
    MODELS.clear();
  }
}
