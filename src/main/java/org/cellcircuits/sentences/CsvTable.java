package org.cellcircuits.sentences;

import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.List;

/**
 * A small RFC 4180 CSV table (header row; quoted fields may hold commas, doubled quotes and line breaks) for
 * per-cell annotation files. An empty field is a missing value (null), as pandas reads it.
 *
 * @param header column names
 * @param rows   one array per data row, as long as the header
 */
record CsvTable(List<String> header, List<String[]> rows) {

  static CsvTable read(Reader in, String source) throws IOException {
    StringBuilder all = new StringBuilder();
    char[] buf = new char[1 << 16];
    for (int n; (n = in.read(buf)) != -1; ) {
      all.append(buf, 0, n);
    }
    return parse(all, source);
  }

  static CsvTable parse(CharSequence text, String source) throws AtlasFormatException {
    List<List<String>> records = new ArrayList<>();
    List<String> record = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    int i = 0;
    int n = text.length();
    int line = 1;
    while (i < n) {
      char c = text.charAt(i);
      if (c == '"' && field.length() == 0) {
        int startLine = line;
        i++;
        while (true) {
          if (i >= n) {
            throw AtlasFormatException.of(source, "line " + startLine, "a quoted field is never closed",
                "a closing quote");
          }
          char q = text.charAt(i);
          if (q == '"') {
            if (i + 1 < n && text.charAt(i + 1) == '"') {
              field.append('"');
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (q == '\n') {
            line++;
          }
          field.append(q);
          i++;
        }
      } else if (c == ',') {
        record.add(value(field));
        i++;
      } else if (c == '\n' || c == '\r') {
        record.add(value(field));
        if (!(record.size() == 1 && record.get(0) == null)) { // a blank line
          records.add(record);
        }
        record = new ArrayList<>();
        i += (c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') ? 2 : 1;
        line++;
      } else {
        field.append(c);
        i++;
      }
    }
    if (field.length() > 0 || !record.isEmpty()) {
      record.add(value(field));
      records.add(record);
    }
    if (records.isEmpty()) {
      throw AtlasFormatException.of(source, "header", "the file is empty", "a header row naming the columns");
    }
    List<String> header = new ArrayList<>();
    for (String h : records.get(0)) {
      header.add(h == null ? "" : h);
    }
    List<String[]> rows = new ArrayList<>(records.size() - 1);
    for (int r = 1; r < records.size(); r++) {
      List<String> rec = records.get(r);
      if (rec.size() != header.size()) {
        throw AtlasFormatException.of(source, "data row " + r, String.format("has %d fields", rec.size()),
            String.format("%d fields, one per header column %s", header.size(), header));
      }
      rows.add(rec.toArray(new String[0]));
    }
    return new CsvTable(List.copyOf(header), rows);
  }

  private static String value(StringBuilder field) {
    String v = field.length() == 0 ? null : field.toString();
    field.setLength(0);
    return v;
  }
}
