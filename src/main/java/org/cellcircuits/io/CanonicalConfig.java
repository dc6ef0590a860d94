package org.cellcircuits.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A stage config rendered one way only, so that its hash changes when and only when a value changes: keys sorted,
 * no whitespace, comments and origins dropped, numbers in one form ({@code 8}, {@code 8.0} and {@code 8e0} are the same
 * number). We render it ourselves rather than through the config library's renderer so that the hash does not change
 * with that library's formatting choices.
 */
public final class CanonicalConfig {
  private static final Gson COMPACT = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  private CanonicalConfig() {}

  /** The resolved config as canonical JSON. */
  public static String json(Config config) {
    return COMPACT.toJson(tree(config));
  }

  /** The resolved config as a canonical JSON tree (object keys sorted). */
  public static JsonObject tree(Config config) {
    return (JsonObject) toJson(config.resolve().root());
  }

  /** SHA-256 (hex) of {@link #json(Config)}. */
  public static String sha256(Config config) {
    return sha256Hex(json(config));
  }

  /** SHA-256 (hex) of an already canonical JSON text, e.g. the {@code config} recorded in a marker. */
  public static String sha256Hex(String canonicalJson) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(digest.digest(canonicalJson.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }

  /** Re-renders canonical JSON text (e.g. read back from a marker) in canonical form. */
  public static String canonicalize(JsonElement element) {
    return COMPACT.toJson(sorted(element));
  }

  /**
   * The keys whose values differ between two configs, as {@code key: old -> new} lines (dotted paths, lists compared
   * whole), sorted by key; a key present on one side only shows {@code (absent)} on the other.
   */
  public static List<String> differences(JsonElement before, JsonElement after) {
    Map<String, String> a = new TreeMap<>();
    Map<String, String> b = new TreeMap<>();
    flatten("", before, a);
    flatten("", after, b);
    Set<String> keys = new TreeSet<>(a.keySet());
    keys.addAll(b.keySet());
    List<String> lines = new ArrayList<>();
    for (String key : keys) {
      String x = a.getOrDefault(key, "(absent)");
      String y = b.getOrDefault(key, "(absent)");
      if (!x.equals(y)) {
        lines.add(key + ": " + x + " -> " + y);
      }
    }
    return lines;
  }

  private static void flatten(String prefix, JsonElement element, Map<String, String> out) {
    if (element instanceof JsonObject object && !object.isEmpty()) {
      for (Map.Entry<String, JsonElement> e : object.entrySet()) {
        flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out);
      }
    } else {
      out.put(prefix, COMPACT.toJson(element));
    }
  }

  private static JsonElement toJson(ConfigValue value) {
    switch (value.valueType()) {
      case OBJECT: {
        ConfigObject object = (ConfigObject) value;
        JsonObject out = new JsonObject();
        for (String key : new TreeSet<>(object.keySet())) {
          out.add(key, toJson(object.get(key)));
        }
        return out;
      }
      case LIST: {
        JsonArray out = new JsonArray();
        for (ConfigValue item : (ConfigList) value) {
          out.add(toJson(item));
        }
        return out;
      }
      case NUMBER:
        return new JsonPrimitive(canonicalNumber((Number) value.unwrapped()));
      case BOOLEAN:
        return new JsonPrimitive((Boolean) value.unwrapped());
      case NULL:
        return JsonNull.INSTANCE;
      case STRING:
        return new JsonPrimitive((String) value.unwrapped());
      default:
        throw new IllegalArgumentException("config value of unknown type " + value.valueType());
    }
  }

  private static JsonElement sorted(JsonElement element) {
    if (element instanceof JsonObject object) {
      JsonObject out = new JsonObject();
      for (String key : new TreeSet<>(object.keySet())) {
        out.add(key, sorted(object.get(key)));
      }
      return out;
    }
    if (element instanceof JsonArray array) {
      JsonArray out = new JsonArray();
      array.forEach(item -> out.add(sorted(item)));
      return out;
    }
    if (element instanceof JsonPrimitive p && p.isNumber()) {
      return new JsonPrimitive(canonicalNumber(new BigDecimal(p.getAsString())));
    }
    return element;
  }

  /** Whole numbers as integers, others as the shortest decimal that round-trips the double. */
  private static Number canonicalNumber(Number n) {
    BigDecimal d = n instanceof BigDecimal b ? b
        : (n instanceof Double || n instanceof Float) ? new BigDecimal(Double.toString(n.doubleValue()))
        : new BigDecimal(n.toString());
    d = d.stripTrailingZeros();
    if (d.scale() <= 0) {
      return d.toBigIntegerExact();
    }
    return d;
  }

  /** Parses JSON text written by {@link #json}. */
  public static JsonElement parse(String json) {
    return JsonParser.parseString(Objects.requireNonNull(json, "json"));
  }
}
