package org.cellcircuits.io;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The project's one set of range checks and its one parser of config enums. Every failure names the setting, its
 * value and what it needs, in one format: {@code <name> is invalid: <value>; need <range>}, e.g.
 * {@code cellcircuits.train.lr is invalid: 0.0; need > 0 and finite}.
 *
 * <p>The name is used as given: a config key as a user writes it in a config file
 * ({@code cellcircuits.harvest.cells-per-task}), a builder's parameter ({@code trainer parameter steps}) or a
 * checkpoint's key ({@code hidden_size}). A check that fails throws {@link IllegalArgumentException}; NaN fails every
 * check on a double.
 */
public final class ConfigChecks {
  private ConfigChecks() {}

  /** {@code <name> is invalid: <value>; need <need>}. */
  public static IllegalArgumentException invalid(String name, Object value, String need) {
    return new IllegalArgumentException(String.format("%s is invalid: %s; need %s", name, value, need));
  }

  /** Fails with {@link #invalid} unless {@code ok}. */
  public static void require(boolean ok, String name, Object value, String need) {
    if (!ok) {
      throw invalid(name, value, need);
    }
  }

  /** {@code value >= min}; else {@code <name> is invalid: <value>; need >= <min>}. */
  public static void atLeast(String name, long value, long min) {
    require(value >= min, name, value, ">= " + min);
  }

  /** {@code min <= value <= max}; else {@code <name> is invalid: <value>; need <min> to <max>}. */
  public static void between(String name, long value, long min, long max) {
    require(value >= min && value <= max, name, value, min + " to " + max);
  }

  /** {@code value >= min} and finite; else {@code <name> is invalid: <value>; need >= <min> and finite}. */
  public static void finiteAtLeast(String name, double value, double min) {
    require(value >= min && !Double.isInfinite(value), name, value, ">= " + min + " and finite");
  }

  /** {@code value > 0} and finite; else {@code <name> is invalid: <value>; need > 0 and finite}. */
  public static void positiveFinite(String name, double value) {
    require(value > 0 && !Double.isInfinite(value), name, value, "> 0 and finite");
  }

  /**
   * The constant whose config name is {@code text} (trimmed, case-insensitive); else
   * {@code <name> is invalid: '<text>'; need one of <names>}.
   *
   * @param configName how a constant is written in a config, e.g. {@code TieOrder::configName}
   */
  public static <E extends Enum<E>> E oneOf(String name, String text, E[] values, Function<E, String> configName) {
    Map<String, E> spellings = new LinkedHashMap<>();
    for (E e : values) {
      spellings.put(configName.apply(e), e);
    }
    return oneOf(name, text, spellings);
  }

  /**
   * The value spelled {@code text} (trimmed, case-insensitive); else
   * {@code <name> is invalid: '<text>'; need one of <spellings>}, listed in the map's order. For settings whose
   * spellings are not one per constant: a device-dependent {@code auto}, or a second name for the same format.
   *
   * @param spellings lower-case spelling to value, in the order the message lists them
   */
  public static <T> T oneOf(String name, String text, Map<String, T> spellings) {
    T value = spellings.get(text == null ? "" : text.trim().toLowerCase(Locale.ROOT));
    if (value == null) {
      throw invalid(name, "'" + text + "'", "one of " + String.join(", ", spellings.keySet()));
    }
    return value;
  }
}
