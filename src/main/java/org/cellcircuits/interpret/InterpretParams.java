package org.cellcircuits.interpret;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import org.cellcircuits.io.ConfigChecks;

/**
 * Knobs of per-feature interpretation, each validated here with an error naming its key under
 * {@code cellcircuits.interpret}.
 *
 * @param topExamples strongest tokens kept per feature (>= 1). Default 20.
 * @param enrichmentTopGenes a feature's genes, by activation mass, tested for enrichment in gene sets (>= 1).
 *     Default 10.
 * @param geneLevelThreshold gene-level score (share of mass on the top gene) from which a feature is labelled
 *     {@code gene:<SYMBOL>}, in (0, 1]. Default 0.5.
 * @param cellTypeThreshold cell-type specificity (tau) from which a feature is labelled {@code celltype:<type>}, in
 *     (0, 1]. Default 0.8, the cut-off for "tissue-specific" in Kryuchkova-Mostacci and Robinson-Rechavi 2017.
 * @param templateThreshold share of mass on tokens outside every gene from which a feature is labelled
 *     {@code prompt-template}, in (0, 1]. Default 0.5.
 * @param positionThreshold share of mass at one token position from which a feature is labelled {@code position},
 *     in (0, 1]. Default 0.5.
 */
public record InterpretParams(int topExamples, int enrichmentTopGenes, double geneLevelThreshold,
                              double cellTypeThreshold, double templateThreshold, double positionThreshold)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public InterpretParams {
    atLeastOne("top-examples", topExamples);
    atLeastOne("enrichment-top-genes", enrichmentTopGenes);
    share("gene-level-threshold", geneLevelThreshold);
    share("cell-type-threshold", cellTypeThreshold);
    share("template-threshold", templateThreshold);
    share("position-threshold", positionThreshold);
  }

  /** The defaults listed above. */
  public static InterpretParams defaults() {
    return new InterpretParams(20, 10, 0.5, 0.8, 0.5, 0.5);
  }

  /** Reads these six keys of the {@code cellcircuits.interpret} section; a bad value names its key. */
  public static InterpretParams fromConfig(Config all) {
    try {
      Config c = all.getConfig(SECTION);
      return new InterpretParams(c.getInt("top-examples"), c.getInt("enrichment-top-genes"),
          c.getDouble("gene-level-threshold"), c.getDouble("cell-type-threshold"), c.getDouble("template-threshold"),
          c.getDouble("position-threshold"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in " + SECTION + ": " + e.getMessage(), e);
    }
  }

  /** The config section of the interpret stage. */
  public static final String SECTION = "cellcircuits.interpret";

  public InterpretParams withGeneLevelThreshold(double t) {
    return new InterpretParams(topExamples, enrichmentTopGenes, t, cellTypeThreshold, templateThreshold,
        positionThreshold);
  }

  private static void atLeastOne(String key, int value) {
    ConfigChecks.atLeast(SECTION + "." + key, value, 1);
  }

  private static void share(String key, double value) {
    ConfigChecks.require(value > 0 && value <= 1, SECTION + "." + key, value, "a share in (0, 1]");
  }
}
