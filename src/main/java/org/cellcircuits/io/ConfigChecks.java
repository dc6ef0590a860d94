package org.cellcircuits.io;

/** Range checks of config values whose errors name the key as a user writes it in a config file. */
public final class ConfigChecks {
  private ConfigChecks() {}

  /**
   * @param key the key below {@code cellcircuits.}, e.g. {@code harvest.cells-per-task}
   * @throws IllegalArgumentException {@code cellcircuits.<key> is <value>; must be >= <min>}
   */
  public static void atLeast(String key, long value, long min) {
    if (value < min) {
      throw new IllegalArgumentException(String.format("cellcircuits.%s is %d; must be >= %d", key, value, min));
    }
  }
}
