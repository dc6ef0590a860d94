package org.cellcircuits.io;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The commit marker of one stage ({@code <root>/<stage>/_COMMITTED.json}): the only thing readers trust. It names the
 * attempt folder that holds the stage's data and records how that data was made, so that a rerun can tell whether it
 * would make the same thing (config hash and input fingerprints) and so that every output has its provenance.
 *
 * @param formatVersion version of this JSON layout; readers refuse newer ones instead of misreading them
 * @param stage stage name, equal to the folder the marker lives in
 * @param attemptId id of the committed attempt; the data lives in {@code attempt-<attemptId>/}
 * @param configHash SHA-256 of {@code configJson}
 * @param configJson the stage's config subtree as canonical JSON ({@link CanonicalConfig})
 * @param inputs input name to fingerprint ({@link InputFingerprints})
 * @param rowCounts rows per table written into the attempt folder; also the list of tables readers may open
 * @param stats extra figures the stage reports (e.g. cells filtered out), name to value
 * @param createdAt when the marker was written
 * @param versions the software that wrote it
 */
public record StageMarker(
    int formatVersion,
    String stage,
    String attemptId,
    String configHash,
    String configJson,
    Map<String, String> inputs,
    Map<String, Long> rowCounts,
    Map<String, Double> stats,
    Instant createdAt,
    SoftwareVersions versions) {

  /** The layout this code writes and the newest it reads. */
  public static final int FORMAT_VERSION = 1;

  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  public StageMarker {
    if (formatVersion < 1 || formatVersion > FORMAT_VERSION) {
      throw new IllegalArgumentException(String.format(
          "marker format_version %d is not supported: this cellcircuits reads versions 1..%d",
          formatVersion, FORMAT_VERSION));
    }
    RunRoot.requireStageName(stage);
    Objects.requireNonNull(attemptId, "attempt_id");
    if (configHash == null || !SHA256.matcher(configHash).matches()) {
      throw new IllegalArgumentException(String.format(
          "config_hash '%s' of stage %s is invalid: expected 64 lower-case hex digits (SHA-256)", configHash, stage));
    }
    Objects.requireNonNull(configJson, "config");
    Objects.requireNonNull(createdAt, "created_at");
    Objects.requireNonNull(versions, "versions");
    inputs = sortedCopy(inputs, "inputs");
    rowCounts = sortedCopy(rowCounts, "row_counts");
    stats = sortedCopy(stats, "stats");
    for (Map.Entry<String, Long> e : rowCounts.entrySet()) {
      RunRoot.requireTableName(e.getKey());
      if (e.getValue() < 0) {
        throw new IllegalArgumentException(String.format(
            "row count of table %s in stage %s is %d; expected >= 0", e.getKey(), stage, e.getValue()));
      }
    }
    for (Map.Entry<String, Double> e : stats.entrySet()) {
      if (!Double.isFinite(e.getValue())) {
        throw new IllegalArgumentException(String.format(
            "stat %s of stage %s is %s; expected a finite number", e.getKey(), stage, e.getValue()));
      }
    }
  }

  /** Folder name of the committed attempt inside the stage folder. */
  public String attemptFolder() {
    return RunRoot.ATTEMPT_PREFIX + attemptId;
  }

  /** The marker as pretty JSON (snake_case keys, as the other JSON artifacts of the project). */
  public String toJson() {
    JsonObject o = new JsonObject();
    o.addProperty("format_version", formatVersion);
    o.addProperty("stage", stage);
    o.addProperty("attempt_id", attemptId);
    o.addProperty("attempt_folder", attemptFolder());
    o.addProperty("config_hash", configHash);
    o.add("config", CanonicalConfig.parse(configJson));
    JsonObject in = new JsonObject();
    inputs.forEach(in::addProperty);
    o.add("inputs", in);
    JsonObject rows = new JsonObject();
    rowCounts.forEach(rows::addProperty);
    o.add("row_counts", rows);
    JsonObject st = new JsonObject();
    // Whole-valued stats print as integers: a count of 12 cells should read 12, not 12.0.
    stats.forEach((k, v) -> st.add(k, new JsonPrimitive(
        v == Math.rint(v) && Math.abs(v) < 1e15 ? (Number) v.longValue() : (Number) v)));
    o.add("stats", st);
    o.addProperty("created_at", createdAt.toString());
    JsonObject ver = new JsonObject();
    ver.addProperty("cellcircuits", versions.cellcircuits());
    ver.addProperty("spark", versions.spark());
    ver.addProperty("djl", versions.djl());
    ver.addProperty("java", versions.java());
    o.add("versions", ver);
    return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create().toJson(o) + "\n";
  }

  /**
   * Parses a marker.
   *
   * @param json the marker text
   * @param source where it came from, for error messages (the marker path)
   * @throws IllegalArgumentException naming the source and the field when the text is not a valid marker
   */
  public static StageMarker fromJson(String json, String source) {
    JsonObject o;
    try {
      JsonElement parsed = CanonicalConfig.parse(json);
      if (!parsed.isJsonObject()) {
        throw new IllegalArgumentException(String.format("marker %s is not a JSON object", source));
      }
      o = parsed.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new IllegalArgumentException(String.format("marker %s is not valid JSON: %s", source, e.getMessage()), e);
    }
    try {
      JsonObject ver = object(o, "versions", source);
      return new StageMarker(
          (int) number(o, "format_version", source).longValueExact(),
          string(o, "stage", source),
          string(o, "attempt_id", source),
          string(o, "config_hash", source),
          CanonicalConfig.canonicalize(object(o, "config", source)),
          stringMap(object(o, "inputs", source), "inputs", source),
          longMap(object(o, "row_counts", source), source),
          doubleMap(object(o, "stats", source), source),
          Instant.parse(string(o, "created_at", source)),
          new SoftwareVersions(
              string(ver, "cellcircuits", source),
              string(ver, "spark", source),
              string(ver, "djl", source),
              string(ver, "java", source)));
    } catch (DateTimeParseException | ArithmeticException e) {
      throw new IllegalArgumentException(String.format("marker %s is invalid: %s", source, e.getMessage()), e);
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("marker ")) {
        throw e;
      }
      throw new IllegalArgumentException(String.format("marker %s is invalid: %s", source, e.getMessage()), e);
    }
  }

  private static JsonElement field(JsonObject o, String name, String source) {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull()) {
      throw new IllegalArgumentException(String.format("marker %s has no field '%s'", source, name));
    }
    return e;
  }

  private static JsonObject object(JsonObject o, String name, String source) {
    JsonElement e = field(o, name, source);
    if (!e.isJsonObject()) {
      throw new IllegalArgumentException(String.format("marker %s field '%s' is not an object", source, name));
    }
    return e.getAsJsonObject();
  }

  private static String string(JsonObject o, String name, String source) {
    JsonElement e = field(o, name, source);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new IllegalArgumentException(String.format("marker %s field '%s' is not a string", source, name));
    }
    return e.getAsString();
  }

  private static BigDecimal number(JsonObject o, String name, String source) {
    JsonElement e = field(o, name, source);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new IllegalArgumentException(String.format("marker %s field '%s' is not a number", source, name));
    }
    return e.getAsBigDecimal();
  }

  private static Map<String, String> stringMap(JsonObject o, String name, String source) {
    Map<String, String> out = new TreeMap<>();
    for (String key : o.keySet()) {
      out.put(key, string(o, key, source + " " + name));
    }
    return out;
  }

  private static Map<String, Long> longMap(JsonObject o, String source) {
    Map<String, Long> out = new TreeMap<>();
    for (String key : o.keySet()) {
      out.put(key, number(o, key, source + " row_counts").longValueExact());
    }
    return out;
  }

  private static Map<String, Double> doubleMap(JsonObject o, String source) {
    Map<String, Double> out = new TreeMap<>();
    for (String key : o.keySet()) {
      out.put(key, number(o, key, source + " stats").doubleValue());
    }
    return out;
  }

  private static <V> Map<String, V> sortedCopy(Map<String, V> map, String what) {
    Objects.requireNonNull(map, what);
    Map<String, V> out = new TreeMap<>();
    map.forEach((k, v) -> out.put(Objects.requireNonNull(k, what + " key"), Objects.requireNonNull(v, what + " " + k)));
    return Collections.unmodifiableMap(out);
  }
}
