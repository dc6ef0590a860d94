package org.cellcircuits.circuits;

import java.util.Locale;
import org.cellcircuits.io.ConfigChecks;

/**
 * Which quantity a cell's circuit explains ({@code circuits.target}), before it is resolved to tokens for a cell:
 * <ul>
 *   <li>{@code predicted} (default): the logit of the model's own next token at the last prompt position, the first
 *       token of the cell type it predicts (greedy decoding starts there);
 *   <li>{@code annotated}: the logit of the first token of the cell's annotated type;
 *   <li>{@code label:<cell type>}: the logit of the first token of a given type, for every cell;
 *   <li>{@code difference:<type a>|<type b>}: logit(a) - logit(b), their first tokens: what makes the model say a
 *       rather than b.
 * </ul>
 *
 * @param mode which of the four
 * @param label the type of {@code label}, or type a of {@code difference}; null otherwise
 * @param other type b of {@code difference}; null otherwise
 */
public record TargetSpec(Mode mode, String label, String other) implements java.io.Serializable {

  public enum Mode { PREDICTED, ANNOTATED, LABEL, DIFFERENCE }

  private static final String KEY = "cellcircuits.circuits.target";
  private static final String FORMS =
      "predicted, annotated, label:<cell type> or difference:<type a>|<type b>";

  public TargetSpec {
    ConfigChecks.require(mode != null, KEY, "a target without a mode", FORMS);
    boolean needsLabel = mode == Mode.LABEL || mode == Mode.DIFFERENCE;
    String text = mode.name().toLowerCase(Locale.ROOT) + ":" + (label == null ? "" : label)
        + (mode == Mode.DIFFERENCE ? "|" + (other == null ? "" : other) : "");
    ConfigChecks.require(!needsLabel || (label != null && !label.isBlank()), KEY, "'" + text + "'",
        "a cell type after " + mode.name().toLowerCase(Locale.ROOT) + ":");
    ConfigChecks.require(mode != Mode.DIFFERENCE || (other != null && !other.isBlank()), KEY, "'" + text + "'",
        "two cell types: difference:<type a>|<type b>");
  }

  /** Parses {@code circuits.target}; the error names the key, the value and the forms accepted. */
  public static TargetSpec parse(String text) {
    String t = text == null ? "" : text.trim();
    if (t.equals("predicted")) {
      return new TargetSpec(Mode.PREDICTED, null, null);
    }
    if (t.equals("annotated")) {
      return new TargetSpec(Mode.ANNOTATED, null, null);
    }
    if (t.startsWith("label:")) {
      return new TargetSpec(Mode.LABEL, t.substring(6).trim(), null);
    }
    if (t.startsWith("difference:")) {
      String[] parts = t.substring(11).split("\\|", -1);
      if (parts.length == 2) {
        return new TargetSpec(Mode.DIFFERENCE, parts[0].trim(), parts[1].trim());
      }
    }
    throw ConfigChecks.invalid(KEY, "'" + text + "'", FORMS);
  }

  @Override
  public String toString() {
    return switch (mode) {
      case PREDICTED -> "predicted";
      case ANNOTATED -> "annotated";
      case LABEL -> "label:" + label;
      case DIFFERENCE -> "difference:" + label + "|" + other;
    };
  }
}
