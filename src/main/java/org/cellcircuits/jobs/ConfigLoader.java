package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigOriginFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.cellcircuits.io.ReferenceConfig;

/**
 * Loads the configuration of a run in layers, later wins: the reference config (every key with its default, shipped
 * in the jar as {@value #REFERENCE_RESOURCE}, source {@code conf/reference.conf}), the user's file, then
 * {@code key=value} overrides from the command line.
 *
 * <p>Every key the user gives must exist in the reference config: a misspelt key would otherwise be ignored in
 * silence and the run would use the default. An empty object documented as an "open map" in the reference config
 * (e.g. {@code run.spark.conf}) takes any key below it. Values are checked against the reference types.
 */
public final class ConfigLoader {
  /** Every key lives under this root object. */
  public static final String ROOT = "cellcircuits";

  /** Classpath location of the reference config. */
  public static final String REFERENCE_RESOURCE = ReferenceConfig.RESOURCE;

  private ConfigLoader() {}

  /** The reference config from the classpath, resolved. */
  public static Config reference() {
    return ReferenceConfig.load();
  }

  /**
   * The run's config.
   *
   * @param userFile the user's HOCON file, or null for none
   * @param overrides {@code key=value} strings (keys as HOCON paths, with or without the leading {@code cellcircuits.})
   * @throws BadConfigException naming the key and where it came from, for a missing file, a syntax error, an unknown
   *     key or a value of the wrong type
   */
  public static Config load(Path userFile, List<String> overrides) {
    return load(reference(), userFile, overrides);
  }

  /** As {@link #load(Path, List)}, against a given reference config (tests). */
  public static Config load(Config reference, Path userFile, List<String> overrides) {
    Objects.requireNonNull(reference, "reference");
    Config user = ConfigFactory.empty();
    if (userFile != null) {
      if (!Files.isRegularFile(userFile)) {
        throw new BadConfigException(String.format("config file %s does not exist or is not a file", userFile));
      }
      try {
        user = ConfigFactory.parseFile(userFile.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
      } catch (ConfigException e) {
        throw new BadConfigException(String.format("config file %s cannot be parsed: %s", userFile, e.getMessage()), e);
      }
    }
    Config sets = ConfigFactory.empty();
    for (String override : overrides == null ? List.<String>of() : overrides) {
      sets = parseOverride(reference, override).withFallback(sets);
    }
    Config merged;
    try {
      merged = sets.withFallback(user).withFallback(reference)
          .resolve(ConfigResolveOptions.defaults().setUseSystemEnvironment(true));
    } catch (ConfigException e) {
      throw new BadConfigException("config cannot be resolved: " + e.getMessage(), e);
    }
    String fileName = userFile == null ? null : userFile.toString();
    requireKnownKeys(reference.root(), reference.root(), user.resolveWith(merged).root(), "", fileName);
    requireKnownKeys(reference.root(), reference.root(), sets.resolveWith(merged).root(), "", null);
    try {
      merged.checkValid(reference);
    } catch (ConfigException.ValidationFailed e) {
      throw new BadConfigException("config has values of the wrong type: " + e.getMessage(), e);
    }
    return merged;
  }

  /** Parses one {@code key=value} override into a one-key config whose origin names it. */
  static Config parseOverride(Config reference, String override) {
    int eq = override.indexOf('=');
    if (eq <= 0) {
      throw new BadConfigException(String.format("--set %s: expected key=value", override));
    }
    String key = override.substring(0, eq).strip();
    String text = override.substring(eq + 1).strip();
    List<String> path;
    try {
      path = new ArrayList<>(ConfigUtil.splitPath(key));
    } catch (ConfigException e) {
      throw new BadConfigException(String.format("--set %s: '%s' is not a valid key: %s", override, key, e.getMessage()));
    }
    if (!path.get(0).equals(ROOT)) {
      path.add(0, ROOT);
    }
    String fullKey = ConfigUtil.joinPath(path);
    ConfigOrigin origin = ConfigOriginFactory.newSimple("--set " + override);
    ConfigValue value = parseValue(referenceAt(reference.root(), path, override), text, override).withOrigin(origin);
    return ConfigFactory.empty().withValue(fullKey, value);
  }

  /**
   * Strings stay as typed, because HOCON would read "s3a://bucket/x" as "s3a:" plus a comment; other types (numbers,
   * booleans, lists, objects, and keys whose default is null) are parsed as HOCON values. A bare {@code null} is
   * HOCON's null for every key (e.g. {@code --set sentences.atlas.donor-column=null}: "do not read that column");
   * the string "null" is written quoted.
   */
  private static ConfigValue parseValue(ConfigValue referenceValue, String text, String override) {
    ConfigValueType type = referenceValue == null ? ConfigValueType.STRING : referenceValue.valueType();
    if (text.equals("null")) {
      return ConfigValueFactory.fromAnyRef(null);
    }
    if (type == ConfigValueType.STRING) {
      return ConfigValueFactory.fromAnyRef(unquote(text));
    }
    ConfigValue parsed;
    try {
      parsed = ConfigFactory.parseString("v = " + text).root().get("v");
    } catch (ConfigException e) {
      throw new BadConfigException(String.format("--set %s: '%s' is not a valid %s value: %s",
          override, text, typeName(type), e.getMessage()));
    }
    if (parsed == null || (type == ConfigValueType.NULL && parsed.valueType() == ConfigValueType.STRING)) {
      return ConfigValueFactory.fromAnyRef(unquote(text));
    }
    return parsed;
  }

  private static String unquote(String text) {
    if (text.length() >= 2 && text.startsWith("\"") && text.endsWith("\"")) {
      return ConfigFactory.parseString("v = " + text).getString("v");
    }
    return text;
  }

  /**
   * The reference value at a path; null when the path lies inside an open map (an empty object in the reference).
   *
   * @throws BadConfigException when the path is neither in the reference nor inside an open map
   */
  private static ConfigValue referenceAt(ConfigObject reference, List<String> path, String override) {
    ConfigValue current = reference;
    for (int i = 0; i < path.size(); i++) {
      ConfigObject object = (ConfigObject) current;
      if (isOpenMap(object)) {
        return null;
      }
      ConfigValue next = object.get(path.get(i));
      if (next == null || (i < path.size() - 1 && next.valueType() != ConfigValueType.OBJECT)) {
        String key = ConfigUtil.joinPath(path);
        throw new BadConfigException(String.format("--set %s: unknown key %s (not in reference.conf)%s",
            override, key, suggestion(reference, key)));
      }
      current = next;
    }
    return isOpenMap(current) ? null : current;
  }

  private static void requireKnownKeys(
      ConfigObject fullReference, ConfigObject reference, ConfigObject given, String prefix, String file) {
    for (Map.Entry<String, ConfigValue> e : given.entrySet()) {
      String key = prefix.isEmpty() ? ConfigUtil.joinPath(e.getKey()) : prefix + "." + ConfigUtil.joinPath(e.getKey());
      ConfigValue ref = reference.get(e.getKey());
      ConfigOrigin origin = e.getValue().origin();
      String where = file != null
          ? file + (origin.lineNumber() > 0 ? " line " + origin.lineNumber() : "")
          : origin.description();
      if (ref == null) {
        throw new BadConfigException(String.format("%s: unknown key %s (not in reference.conf)%s",
            where, key, suggestion(fullReference, key)));
      }
      if (isOpenMap(ref)) {
        continue;
      }
      if (ref instanceof ConfigObject refObject && e.getValue() instanceof ConfigObject givenObject) {
        requireKnownKeys(fullReference, refObject, givenObject, key, file);
      } else if (wholeNumberExpected(ref, e.getValue())) {
        throw new BadConfigException(String.format("%s: %s is %s; expected a whole number like its default %s",
            where, key, e.getValue().render(), ref.render()));
      } else if (!compatible(ref, e.getValue()) && ref.valueType() == ConfigValueType.NULL) {
        throw new BadConfigException(String.format("%s: %s is %s %s; expected a single value (a string or a number) "
            + "or null, its default", where, key, article(e.getValue().valueType()),
            typeName(e.getValue().valueType())));
      } else if (!compatible(ref, e.getValue())) {
        throw new BadConfigException(String.format("%s: %s is %s %s; expected %s like its default %s",
            where, key, article(e.getValue().valueType()), typeName(e.getValue().valueType()),
            article(ref.valueType()) + " " + typeName(ref.valueType()), ref.render()));
      }
    }
  }

  /**
   * An open map takes any key below it: an empty object whose comment in the reference config says "open map".
   * Other empty objects (a stage section not filled yet) take no keys, so a typo there cannot pass unnoticed.
   */
  static boolean isOpenMap(ConfigValue ref) {
    return ref instanceof ConfigObject object && object.isEmpty()
        && String.join(" ", ref.origin().comments()).toLowerCase(Locale.ROOT).contains("open map");
  }

  /**
   * Whether a value may stand where the reference has {@code ref}. Strings stand for other scalars only where the
   * config library converts them (booleans from yes/no/on/off); a null default (an optional path, column or number)
   * takes any scalar, not a list or an object.
   */
  private static boolean compatible(ConfigValue ref, ConfigValue given) {
    ConfigValueType want = ref.valueType();
    ConfigValueType got = given.valueType();
    if (want == ConfigValueType.NULL) {
      return got != ConfigValueType.LIST && got != ConfigValueType.OBJECT;
    }
    if (got == ConfigValueType.NULL || want == got) {
      return true;
    }
    return switch (want) {
      case STRING -> got == ConfigValueType.NUMBER || got == ConfigValueType.BOOLEAN;
      case BOOLEAN -> got == ConfigValueType.STRING
          && List.of("true", "false", "yes", "no", "on", "off").contains(String.valueOf(given.unwrapped()));
      default -> false;
    };
  }

  /**
   * A fractional number where the default is a whole one: the key is read as an int or long, and the config library
   * would silently cut 64.7 to 64. (A whole default of a key read as a fraction is written as one in reference.conf,
   * e.g. {@code lr-end = 0.0}.)
   */
  private static boolean wholeNumberExpected(ConfigValue ref, ConfigValue given) {
    if (ref.valueType() != ConfigValueType.NUMBER || given.valueType() != ConfigValueType.NUMBER) {
      return false;
    }
    Object want = ref.unwrapped();
    Object got = given.unwrapped();
    boolean wholeDefault = want instanceof Integer || want instanceof Long;
    return wholeDefault && got instanceof Number n && n.doubleValue() != Math.rint(n.doubleValue());
  }

  private static String typeName(ConfigValueType type) {
    return switch (type) {
      case OBJECT -> "object";
      case LIST -> "list";
      case NUMBER -> "number";
      case BOOLEAN -> "boolean";
      case NULL -> "null";
      case STRING -> "string";
    };
  }

  private static String article(ConfigValueType type) {
    return type == ConfigValueType.OBJECT ? "an" : "a";
  }

  /** A "did you mean" for the nearest known key, when one is close. */
  private static String suggestion(ConfigObject reference, String key) {
    List<String> known = new ArrayList<>();
    collectKeys(reference, "", known);
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : known) {
      int d = levenshtein(candidate, key);
      if (d < bestDistance) {
        bestDistance = d;
        best = candidate;
      }
    }
    return best != null && bestDistance <= Math.max(2, key.length() / 5) ? "; did you mean " + best + "?" : "";
  }

  private static void collectKeys(ConfigObject object, String prefix, List<String> out) {
    for (Map.Entry<String, ConfigValue> e : object.entrySet()) {
      String key = prefix.isEmpty() ? ConfigUtil.joinPath(e.getKey()) : prefix + "." + ConfigUtil.joinPath(e.getKey());
      out.add(key);
      if (e.getValue() instanceof ConfigObject child) {
        collectKeys(child, key, out);
      }
    }
  }

  private static int levenshtein(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
