package org.cellcircuits.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One analyst query of {@code notebooks/queries/}: a plain Spark SQL file over the views {@link RunTables} registers,
 * shared by the notebook ({@code notebooks/cellcircuits_tables.py}, which parses it the same way) and the tests. The
 * file opens with {@code --} comment lines:
 *
 * <pre>
 *   -- Which features drive a cell type's circuits, with what the interpret stage made of each.
 *   -- param: cell_type string
 *   -- param: top int = 10
 *   -- reads: circuits_summary, interpret_features
 *   SELECT ... WHERE cell_type = ${cell_type} AND rank &lt;= ${top}
 * </pre>
 *
 * <p>{@code ${name}} is replaced by the value as a SQL literal: a string quoted and escaped, an int or double checked
 * to be a number, so a value can never add SQL. Every placeholder must be declared and every declared param used;
 * {@link #render} refuses unknown names and missing values without a default.
 *
 * @param name the file name without {@code .sql}
 * @param description the header's other comment lines, joined by spaces
 * @param params the declared parameters, in header order
 * @param reads the views the query reads; a caller can skip a query whose stage has not committed
 * @param sql the body, placeholders still in it
 */
public record NamedQuery(String name, String description, List<Param> params, List<String> reads, String sql) {

  /** A parameter's type: how its value is checked and written into the SQL. */
  public enum Type { STRING, INT, DOUBLE }

  /**
   * @param name as in {@code ${name}}
   * @param type its type
   * @param defaultValue used when no value is given; null when the caller must give one
   */
  public record Param(String name, Type type, String defaultValue) {
    public Param {
      if (name == null || !IDENTIFIER.matcher(name).matches()) {
        throw new IllegalArgumentException(String.format("param name '%s' is invalid: expected [A-Za-z_][A-Za-z0-9_]*",
            name));
      }
      Objects.requireNonNull(type, "type");
      if (defaultValue != null) {
        literal(type, name, defaultValue);
      }
    }
  }

  private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([^}]*)}");
  private static final Pattern PARAM_LINE =
      Pattern.compile("param:\\s*([A-Za-z_][A-Za-z0-9_]*)\\s+(string|int|double)\\s*(?:=\\s*(.*?))?\\s*");
  private static final Pattern INTEGER = Pattern.compile("-?[0-9]+");

  public NamedQuery {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(description, "description");
    params = List.copyOf(params);
    reads = List.copyOf(reads);
    Objects.requireNonNull(sql, "sql");
    Set<String> declared = new LinkedHashSet<>();
    for (Param p : params) {
      if (!declared.add(p.name())) {
        throw new IllegalArgumentException(String.format("query %s declares param %s twice", name, p.name()));
      }
    }
    Set<String> used = placeholders(name, sql);
    for (String u : used) {
      if (!declared.contains(u)) {
        throw new IllegalArgumentException(String.format(
            "query %s uses ${%s} but declares no such param; declared: %s", name, u, declared));
      }
    }
    for (String d : declared) {
      if (!used.contains(d)) {
        throw new IllegalArgumentException(String.format("query %s declares param %s but never uses ${%s}",
            name, d, d));
      }
    }
  }

  /** Reads one {@code .sql} file; its name (without {@code .sql}) is the query's name. */
  public static NamedQuery load(Path file) throws IOException {
    String fileName = file.getFileName().toString();
    if (!fileName.endsWith(".sql")) {
      throw new IllegalArgumentException(String.format("query file %s does not end in .sql", file));
    }
    return parse(fileName.substring(0, fileName.length() - 4), Files.readString(file, StandardCharsets.UTF_8));
  }

  /** Every {@code *.sql} file of a folder, by file name. */
  public static List<NamedQuery> loadAll(Path folder) throws IOException {
    List<NamedQuery> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(folder)) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".sql")).sorted().toList()) {
        out.add(load(f));
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(String.format("query folder %s holds no .sql file", folder));
    }
    return out;
  }

  /** Parses a query's text: the leading {@code --} lines are its header, the rest its body. */
  public static NamedQuery parse(String name, String text) {
    List<String> description = new ArrayList<>();
    List<Param> params = new ArrayList<>();
    List<String> reads = new ArrayList<>();
    String[] lines = text.split("\r?\n", -1);
    int i = 0;
    for (; i < lines.length; i++) {
      String line = lines[i].strip();
      if (!line.startsWith("--")) {
        break;
      }
      String comment = line.substring(2).strip();
      Matcher m = PARAM_LINE.matcher(comment);
      if (m.matches()) {
        params.add(new Param(m.group(1), Type.valueOf(m.group(2).toUpperCase(Locale.ROOT)), m.group(3)));
      } else if (comment.startsWith("param:")) {
        throw new IllegalArgumentException(String.format(
            "query %s: header line '%s' is invalid: expected '-- param: <name> string|int|double [= <default>]'",
            name, line));
      } else if (comment.startsWith("reads:")) {
        for (String v : comment.substring("reads:".length()).split(",")) {
          if (!v.isBlank()) {
            reads.add(v.strip());
          }
        }
      } else if (!comment.isEmpty()) {
        description.add(comment);
      }
    }
    String body = String.join("\n", List.of(lines).subList(i, lines.length)).strip();
    if (body.isEmpty()) {
      throw new IllegalArgumentException(String.format("query %s has no SQL after its header", name));
    }
    return new NamedQuery(name, String.join(" ", description), params, reads, body);
  }

  /**
   * The SQL with every placeholder replaced by its value (or default) as a literal.
   *
   * @param values param name to value; a value's {@code toString()} is checked against the param's type
   * @throws IllegalArgumentException naming the query and the param when a name is unknown, a value is missing or a
   *     value is not of the param's type
   */
  public String render(Map<String, ?> values) {
    Map<String, Param> byName = new LinkedHashMap<>();
    params.forEach(p -> byName.put(p.name(), p));
    for (String key : values.keySet()) {
      if (!byName.containsKey(key)) {
        throw new IllegalArgumentException(String.format("query %s has no param %s; its params are %s",
            name, key, byName.keySet()));
      }
    }
    Map<String, String> literals = new LinkedHashMap<>();
    for (Param p : params) {
      Object value = values.get(p.name());
      if (value == null && p.defaultValue() == null) {
        throw new IllegalArgumentException(String.format("query %s needs a value for param %s (%s)",
            name, p.name(), p.type().name().toLowerCase(Locale.ROOT)));
      }
      literals.put(p.name(), literal(p.type(), name + " param " + p.name(),
          value == null ? p.defaultValue() : value.toString()));
    }
    return PLACEHOLDER.matcher(sql).replaceAll(m -> Matcher.quoteReplacement(literals.get(m.group(1))));
  }

  /** The SQL with only the defaults (every param must have one). */
  public String render() {
    return render(Map.of());
  }

  /** The names of the params that have no default. */
  public List<String> required() {
    return params.stream().filter(p -> p.defaultValue() == null).map(Param::name).toList();
  }

  /** A value as a Spark SQL literal: strings in single quotes with {@code \} and {@code '} escaped by {@code \}. */
  static String literal(Type type, String what, String value) {
    switch (type) {
      case STRING -> {
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
      }
      case INT -> {
        if (!INTEGER.matcher(value.strip()).matches()) {
          throw new IllegalArgumentException(String.format("%s is '%s'; expected an integer", what, value));
        }
        return value.strip();
      }
      default -> {
        double d;
        try {
          d = Double.parseDouble(value.strip());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(String.format("%s is '%s'; expected a number", what, value), e);
        }
        if (!Double.isFinite(d)) {
          throw new IllegalArgumentException(String.format("%s is '%s'; expected a finite number", what, value));
        }
        return Double.toString(d);
      }
    }
  }

  private static Set<String> placeholders(String name, String sql) {
    Set<String> used = new LinkedHashSet<>();
    Matcher m = PLACEHOLDER.matcher(sql);
    while (m.find()) {
      if (!IDENTIFIER.matcher(m.group(1)).matches()) {
        throw new IllegalArgumentException(String.format("query %s has an invalid placeholder ${%s}", name,
            m.group(1)));
      }
      used.add(m.group(1));
    }
    return used;
  }
}
