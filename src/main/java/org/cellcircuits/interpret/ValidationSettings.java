package org.cellcircuits.interpret;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.model.ModelSettings;

/**
 * How the interpret stage checks circuits by knockout: the {@code cellcircuits.interpret.validation} section plus the
 * model it reruns. Validated on the driver, every error naming its key.
 *
 * @param model the checkpoint the circuits stage traced, and how it runs
 * @param cellsPerType traced cells checked per cell type, the first in cell id order of those the circuits stage
 *     traced (>= 0; 0 = no knockout check)
 * @param topGenes input genes knocked out per cell, the largest by |attribution| (>= 1)
 * @param topFeatures features zeroed per cell, the largest by |attribution| (>= 0)
 * @param cellsPerTask cells per Spark task (>= 1)
 */
public record ValidationSettings(ModelSettings model, int cellsPerType, int topGenes, int topFeatures,
    int cellsPerTask) implements Serializable {
  private static final long serialVersionUID = 1L;
  /** The section's path. */
  public static final String SECTION = InterpretParams.SECTION + ".validation";

  public ValidationSettings {
    Objects.requireNonNull(model, "model");
    ConfigChecks.atLeast("cellcircuits.interpret.validation.cells-per-type", cellsPerType, 0);
    ConfigChecks.atLeast("cellcircuits.interpret.validation.top-genes", topGenes, 1);
    ConfigChecks.atLeast("cellcircuits.interpret.validation.top-features", topFeatures, 0);
    ConfigChecks.atLeast("cellcircuits.interpret.validation.cells-per-task", cellsPerTask, 1);
  }

  /** Whether the stage runs the check at all. */
  public boolean enabled() {
    return cellsPerType > 0;
  }

  /** Reads the section and the model's. */
  public static ValidationSettings fromConfig(Config all) {
    ModelSettings model = ModelSettings.fromConfig(all);
    try {
      Config c = all.getConfig(SECTION);
      return new ValidationSettings(model, c.getInt("cells-per-type"), c.getInt("top-genes"),
          c.getInt("top-features"), c.getInt("cells-per-task"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in " + SECTION + ": " + e.getMessage(), e);
    }
  }
}
