package org.cellcircuits.runtime;

import ai.djl.Device;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderStore;

/**
 * The transcoders loaded in this JVM, one per (committed folder, device), for the same reason as
 * {@link org.cellcircuits.runtime.ExecutorModels}: every task of an executor shares them instead of reading and
 * copying 24 layers of weights again. Their weights are only read. A folder is an attempt folder of the train stage,
 * which is never rewritten (a new train run commits a new attempt), so its path identifies its content.
 */
public final class ExecutorTranscoders {
  private static final Map<Key, Transcoder> LOADED = new ConcurrentHashMap<>();
  private static final AtomicLong LOADS = new AtomicLong();

  private ExecutorTranscoders() {}

  private record Key(String folder, String device) {}

  /** The transcoder in {@code folder} on {@code device}; the first call in a JVM loads it. */
  public static Transcoder get(String folder, Device device, Configuration conf) {
    return LOADED.computeIfAbsent(new Key(folder, device.toString()), key -> {
      LOADS.incrementAndGet();
      try {
        return TranscoderStore.load(new Path(folder), conf, device);
      } catch (IOException e) {
        throw new UncheckedIOException(String.format("transcoder %s cannot be read: %s", folder, e.getMessage()), e);
      }
    });
  }

  /** How many transcoders this JVM has loaded (tests: once per JVM, not per task). */
  public static long loads() {
    return LOADS.get();
  }

  /** Closes and forgets every loaded transcoder (tests). */
  public static synchronized void clear() {
    LOADED.values().forEach(Transcoder::close);
    LOADED.clear();
  }
}
