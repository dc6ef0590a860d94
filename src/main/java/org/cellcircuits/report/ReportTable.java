package org.cellcircuits.report;

import java.util.ArrayList;
import java.util.List;

/**
 * A table as the report prints it: column names and rows of already formatted cells (numbers by {@link
 * Html#number}, null as "–"). Cells are plain text; the pages escape them.
 */
public record ReportTable(List<String> columns, List<List<String>> rows) {
  public ReportTable {
    columns = List.copyOf(columns);
    List<List<String>> copy = new ArrayList<>();
    for (List<String> row : rows) {
      if (row.size() != columns.size()) {
        throw new IllegalArgumentException(String.format("table row %s has %d cells; the table has %d columns %s",
            row, row.size(), columns.size(), columns));
      }
      copy.add(List.copyOf(row));
    }
    rows = List.copyOf(copy);
  }

  /** A table from raw values: numbers through {@link Html#number}, null as "–", anything else as its text. */
  public static ReportTable of(List<String> columns, List<List<Object>> values) {
    List<List<String>> rows = new ArrayList<>();
    for (List<Object> row : values) {
      List<String> cells = new ArrayList<>();
      for (Object v : row) {
        cells.add(format(v));
      }
      rows.add(cells);
    }
    return new ReportTable(columns, rows);
  }

  static String format(Object v) {
    if (v == null) {
      return "–";
    }
    if (v instanceof Number n) {
      return Html.number(n.doubleValue());
    }
    return v.toString();
  }

  /** The rows whose cell in {@code column} equals {@code value}, or an empty table when the column is missing. */
  public ReportTable filter(String column, String value) {
    int c = columns.indexOf(column);
    return new ReportTable(columns,
        c < 0 ? List.of() : rows.stream().filter(r -> r.get(c).equals(value)).toList());
  }
}
