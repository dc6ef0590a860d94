package org.cellcircuits.io;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a stage attempt wrote.
 *
 * @param rowCounts rows per table; every table the stage wrote under its attempt folder, and only those
 * @param stats extra figures worth keeping with the output (e.g. {@code cells_filtered}), name to value
 */
public record StageResult(Map<String, Long> rowCounts, Map<String, Double> stats) {
  public StageResult {
    Objects.requireNonNull(rowCounts, "rowCounts");
    Objects.requireNonNull(stats, "stats");
    if (rowCounts.isEmpty()) {
      throw new IllegalArgumentException("a stage must report at least one table it wrote");
    }
    rowCounts.keySet().forEach(RunRoot::requireTableName);
    rowCounts.forEach((table, n) -> {
      if (n == null || n < 0) {
        throw new IllegalArgumentException(String.format("row count of table %s is %s; expected >= 0", table, n));
      }
    });
    rowCounts = Collections.unmodifiableMap(new TreeMap<>(rowCounts));
    stats = Collections.unmodifiableMap(new TreeMap<>(stats));
  }

  /** Only row counts. */
  public static StageResult of(Map<String, Long> rowCounts) {
    return new StageResult(rowCounts, Map.of());
  }

  /** This result with one more stat. */
  public StageResult withStat(String name, double value) {
    Map<String, Double> more = new TreeMap<>(stats);
    more.put(Objects.requireNonNull(name, "stat name"), value);
    return new StageResult(rowCounts, more);
  }
}
