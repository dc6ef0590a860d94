package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The gene sets a feature's top genes are tested against, in the order they were read, with unique names.
 *
 * @param source where they came from (a file path), for messages and provenance
 * @param sets the sets
 */
public record GeneSets(String source, List<GeneSet> sets) implements Serializable {
  private static final long serialVersionUID = 1L;

  public GeneSets {
    sets = List.copyOf(sets);
    Set<String> names = new HashSet<>();
    for (GeneSet s : sets) {
      if (!names.add(s.name())) {
        throw new IllegalArgumentException(String.format("%s: gene set '%s' appears twice", source, s.name()));
      }
    }
  }

  public int size() {
    return sets.size();
  }

  /** The set named {@code name}. */
  public GeneSet get(String name) {
    for (GeneSet s : sets) {
      if (s.name().equals(name)) {
        return s;
      }
    }
    throw new IllegalArgumentException(String.format("%s has no gene set '%s'", source, name));
  }
}
