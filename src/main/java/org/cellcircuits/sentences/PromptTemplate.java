package org.cellcircuits.sentences;

import java.io.Serializable;
import java.util.Objects;
import java.util.Set;

/**
 * The text wrapped around a cell sentence, filled as Python's {@code str.format} fills cell2sentence's templates:
 * placeholders {@code {num_genes}}, {@code {organism}}, {@code {cell_sentence}}; {@code {{} and {@code }}} for
 * literal braces.
 *
 * <p>cell2sentence's {@code PromptFormatter.format_hf_ds} fills {@code num_genes} with {@code str(top_k_genes)}
 * -- the K of the run, not the number of genes the cell actually has -- and {@code cell_sentence} with the first
 * K words of the sentence; {@link #format} takes those two values as given.
 *
 * @param text the template
 */
public record PromptTemplate(String text) implements Serializable {
  /**
   * Template 0 of cell2sentence's {@code prompts/single_cell_cell_type_prediction_prompts.json} (commit
   * b2bea70), character for character.
   */
  public static final String C2S_CELL_TYPE_0 = "The following is a list of {num_genes} gene names ordered by "
      + "descending expression level in a {organism} cell. Your task is to give the cell type which this cell "
      + "belongs to based on its gene expression.\nCell sentence: {cell_sentence}.\n"
      + "The cell type corresponding to these genes is:";

  private static final Set<String> PLACEHOLDERS = Set.of("num_genes", "organism", "cell_sentence");

  public PromptTemplate {
    Objects.requireNonNull(text, "template");
    boolean hasSentence = false;
    for (int i = 0; i < text.length(); i++) {
      char ch = text.charAt(i);
      if (ch == '{' && i + 1 < text.length() && text.charAt(i + 1) == '{'
          || ch == '}' && i + 1 < text.length() && text.charAt(i + 1) == '}') {
        i++;
      } else if (ch == '{') {
        int close = text.indexOf('}', i);
        String name = close < 0 ? null : text.substring(i + 1, close);
        if (name == null || !PLACEHOLDERS.contains(name)) {
          throw new IllegalArgumentException(String.format(
              "template is invalid at character %d: %s; expected one of {num_genes}, {organism}, "
                  + "{cell_sentence}, or {{ and }} for literal braces", i,
              close < 0 ? "'{' is never closed" : "unknown placeholder {" + name + "}"));
        }
        hasSentence |= name.equals("cell_sentence");
        i = close;
      } else if (ch == '}') {
        throw new IllegalArgumentException(String.format(
            "template is invalid at character %d: a single '}'; write }} for a literal brace", i));
      }
    }
    if (!hasSentence) {
      throw new IllegalArgumentException("template is invalid: it has no {cell_sentence} placeholder");
    }
  }

  /** cell2sentence's cell-type prediction template 0. */
  public static PromptTemplate c2sCellType() {
    return new PromptTemplate(C2S_CELL_TYPE_0);
  }

  /** The prompt for one cell; {@code numGenes} is K, as cell2sentence writes it. */
  public String format(int numGenes, String organism, String cellSentence) {
    StringBuilder out = new StringBuilder(text.length() + cellSentence.length() + 32);
    for (int i = 0; i < text.length(); i++) {
      char ch = text.charAt(i);
      if ((ch == '{' || ch == '}') && i + 1 < text.length() && text.charAt(i + 1) == ch) {
        out.append(ch);
        i++;
      } else if (ch == '{') {
        int close = text.indexOf('}', i);
        switch (text.substring(i + 1, close)) {
          case "num_genes" -> out.append(numGenes);
          case "organism" -> out.append(organism);
          default -> out.append(cellSentence);
        }
        i = close;
      } else {
        out.append(ch);
      }
    }
    return out.toString();
  }

  /**
   * The answer the model is trained to continue the prompt with: cell2sentence's response template is
   * {@code "{cell_type}."}, and its {@code utils.tokenize_all} joins prompt and response with one space, so the
   * text after the prompt is {@code " " + cellType + "."}.
   */
  public static String answer(String cellType) {
    return " " + cellType + ".";
  }
}
