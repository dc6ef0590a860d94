package org.cellcircuits.sentences;

import org.cellcircuits.io.ConfigChecks;

/** How genes with equal expression in one cell are ordered in its sentence. */
public enum TieOrder {
  /**
   * cell2sentence's order, byte for byte: numpy's global RandomState seeded once, each cell's stored entries
   * shuffled in file order ({@code sklearn.utils.shuffle}), then a stable sort by descending value. What the
   * published C2S models were trained on.
   */
  C2S("c2s"),
  /** Ties by ascending gene column: no random draws, so no sequential pre-pass. */
  GENE_ORDER("gene-order");

  private final String configName;

  TieOrder(String configName) {
    this.configName = configName;
  }

  /** The value used in config files ({@code c2s}, {@code gene-order}). */
  public String configName() {
    return configName;
  }

  /** The constant named {@code name} in a config (trimmed, case-insensitive). */
  public static TieOrder parse(String name) {
    return ConfigChecks.oneOf("cellcircuits.sentences.ties", name, values(), TieOrder::configName);
  }
}
