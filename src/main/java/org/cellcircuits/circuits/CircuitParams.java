package org.cellcircuits.circuits;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.model.ModelSettings;
import org.cellcircuits.sentences.CellSplit;

/**
 * Settings of the circuits stage: the {@code cellcircuits.circuits} section plus the {@code model} and {@code split}
 * sections it uses. Validated here, so an executor never meets a bad value after the job has started.
 *
 * @param model the checkpoint and how it runs
 * @param split which cells are held out
 * @param heldOutOnly trace only held-out cells ({@code cells = held-out}, default) or every cell ({@code all})
 * @param cellsPerType a seeded draw of this many cells per annotated type among those (>= 0; 0 = all)
 * @param target what each cell's circuit explains
 * @param settings node budget, batching, pruning, token limit
 * @param cellsPerTask cells per Spark task (>= 1)
 * @param exportCells cells per type written as circuit-tracer JSON (>= 0)
 * @param topGenes genes per cell type in the printed summary table (>= 1)
 * @param markersPath optional TSV of marker genes per cell type ({@code cell_type}, {@code gene} columns; the demo's
 *     {@code demo/markers.tsv}) to count among each type's top genes; null for none
 * @param randomSeed seeds the draw of cells and the random features of the ablation check
 */
public record CircuitParams(
    ModelSettings model,
    CellSplit split,
    boolean heldOutOnly,
    int cellsPerType,
    TargetSpec target,
    CircuitSettings settings,
    int cellsPerTask,
    int exportCells,
    int topGenes,
    String markersPath,
    long randomSeed) implements Serializable {
  private static final long serialVersionUID = 1L;

  public CircuitParams {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(split, "split");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(settings, "settings");
    ConfigChecks.atLeast("cellcircuits.circuits.cells-per-type", cellsPerType, 0);
    ConfigChecks.atLeast("cellcircuits.circuits.cells-per-task", cellsPerTask, 1);
    ConfigChecks.atLeast("cellcircuits.circuits.export-cells", exportCells, 0);
    ConfigChecks.atLeast("cellcircuits.circuits.top-genes", topGenes, 1);
    ConfigChecks.require(!heldOutOnly || split.heldOutFraction() > 0, "cellcircuits.circuits.cells", "'held-out'",
        "all while cellcircuits.split.held-out-fraction is 0 (no cell is held out), or cells held out (then rerun "
            + "harvest and train)");
  }

  /** Reads the {@code circuits}, {@code model} and {@code split} sections (keys under {@code cellcircuits.}). */
  public static CircuitParams fromConfig(Config all) {
    ModelSettings model = ModelSettings.fromConfig(all);
    try {
      Config c = all.getConfig("cellcircuits.circuits");
      Map<String, Boolean> cellsSpellings = new LinkedHashMap<>();
      cellsSpellings.put("held-out", true);
      cellsSpellings.put("all", false);
      boolean heldOutOnly = ConfigChecks.oneOf("cellcircuits.circuits.cells", c.getString("cells"), cellsSpellings);
      CircuitSettings settings = new CircuitSettings(
          new Attribution.Options(c.getInt("max-feature-nodes"), c.getInt("batch-size"), c.getInt("update-interval")),
          PruneMethod.parse(c.getString("method")),
          c.getDouble("node-threshold"),
          c.getDouble("edge-threshold"),
          c.getInt("greedy-k"),
          c.getInt("max-tokens"),
          c.getInt("ablation-features"));
      return new CircuitParams(model, CellSplit.fromConfig(all), heldOutOnly, c.getInt("cells-per-type"),
          TargetSpec.parse(c.getString("target")), settings, c.getInt("cells-per-task"), c.getInt("export-cells"),
          c.getInt("top-genes"), c.getIsNull("markers-path") ? null : c.getString("markers-path"),
          c.getLong("seed"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.circuits: " + e.getMessage(), e);
    }
  }
}
