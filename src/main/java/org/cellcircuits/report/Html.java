package org.cellcircuits.report;

import java.text.Normalizer;
import java.util.Locale;

/** Escaping, file-name slugs and number formats shared by the report's pages. */
public final class Html {
  private Html() {}

  /** Text or attribute value made safe inside HTML: {@code & < > " '} become entities; null becomes "". */
  public static String escape(String text) {
    if (text == null) {
      return "";
    }
    StringBuilder out = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }

  /**
   * A file-name stem made of lower-case ASCII letters, digits and '-' only, never empty: accents are dropped, every
   * other run of characters becomes one '-' ("T cell, CD4+" → "t-cell-cd4"). Distinct names may share a slug; callers
   * that need unique files disambiguate ({@link HtmlReport} appends a counter).
   */
  public static String slug(String name) {
    String plain = Normalizer.normalize(name == null ? "" : name, Normalizer.Form.NFD).replaceAll("\\p{M}", "");
    String s = plain.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-+|-+$", "");
    if (s.length() > 80) {
      s = s.substring(0, 80).replaceAll("-+$", "");
    }
    return s.isEmpty() ? "unnamed" : s;
  }

  /** A number for a table cell: 4 significant digits, plain notation between 1e-3 and 1e6; "–" for null or NaN. */
  public static String number(Double value) {
    if (value == null || value.isNaN()) {
      return "–";
    }
    double v = value;
    if (v == 0 || v == Math.rint(v) && Math.abs(v) < 1e15) {
      return String.format(Locale.ROOT, "%,d", (long) v);
    }
    double a = Math.abs(v);
    if (a >= 1e-3 && a < 1e6) {
      return String.format(Locale.ROOT, "%s", new java.math.BigDecimal(v).round(new java.math.MathContext(4))
          .stripTrailingZeros().toPlainString());
    }
    return String.format(Locale.ROOT, "%.3e", v);
  }

  /** A share as a percentage with one decimal, "–" for null or NaN. */
  public static String percent(Double share) {
    return share == null || share.isNaN() ? "–" : String.format(Locale.ROOT, "%.1f%%", 100 * share);
  }
}
