package org.cellcircuits.circuits;

import java.util.Locale;

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

  public TargetSpec {
    if (mode == null) {
      throw new IllegalArgumentException("circuits.target needs a mode");
    }
    boolean needsLabel = mode == Mode.LABEL || mode == Mode.DIFFERENCE;
    if (needsLabel && (label == null || label.isBlank())) {
      throw new IllegalArgumentException("circuits.target " + mode.name().toLowerCase(Locale.ROOT) + " needs a cell type");
    }
    if (mode == Mode.DIFFERENCE && (other == null || other.isBlank())) {
      throw new IllegalArgumentException("circuits.target difference needs two cell types: difference:<a>|<b>");
    }
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
    throw new IllegalArgumentException(String.format(
        "circuits.target is \"%s\"; expected predicted, annotated, label:<cell type> or difference:<type a>|<type b>",
        text));
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
