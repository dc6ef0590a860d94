package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

/**
 * A named set of gene symbols: the markers of one cell type, a pathway, one line of a GMT file.
 *
 * @param name unique within its {@link GeneSets}
 * @param description free text (a GMT file's second field; may be empty)
 * @param genes the symbols, in file order, without repeats, at least one
 */
public record GeneSet(String name, String description, Set<String> genes) implements Serializable {
  private static final long serialVersionUID = 1L;

  public GeneSet {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a gene set has an empty name");
    }
    Objects.requireNonNull(description, "description");
    if (genes.isEmpty()) {
      throw new IllegalArgumentException(String.format("gene set '%s' has no genes", name));
    }
    genes = Collections.unmodifiableSet(new LinkedHashSet<>(genes));
  }
}
