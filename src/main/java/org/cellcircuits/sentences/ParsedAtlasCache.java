package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Atlases (or matrices) that had to be parsed whole, kept once per JVM so that the many Spark tasks of one executor
 * do not each parse the same file again. Keyed by what identifies the content: path, length, modification time and
 * the options that change what was parsed. Holds the few most recent entries; tasks asking for one that is being
 * parsed wait for it instead of parsing it twice.
 */
final class ParsedAtlasCache {
  /** Small on purpose: a run reads one atlas; two leave room for X and raw/X or a test's second file. */
  private static final int MAX_ENTRIES = 2;

  private static final Map<String, Object> ENTRIES = new LinkedHashMap<>(4, 0.75f, true);
  private static final Map<String, Object> LOCKS = new ConcurrentHashMap<>();

  private ParsedAtlasCache() {
  }

  interface Loader<T> {
    T load() throws IOException;
  }

  @SuppressWarnings("unchecked")
  static <T> T get(String key, Loader<T> loader) throws IOException {
    Object lock = LOCKS.computeIfAbsent(key, k -> new Object());
    synchronized (lock) {
      synchronized (ENTRIES) {
        Object hit = ENTRIES.get(key);
        if (hit != null) {
          return (T) hit;
        }
      }
      T value = loader.load();
      synchronized (ENTRIES) {
        ENTRIES.put(key, value);
        while (ENTRIES.size() > MAX_ENTRIES) {
          String eldest = ENTRIES.keySet().iterator().next();
          ENTRIES.remove(eldest);
        }
      }
      return value;
    }
  }

  /** For tests: forget everything. */
  static void clear() {
    synchronized (ENTRIES) {
      ENTRIES.clear();
    }
  }
}
