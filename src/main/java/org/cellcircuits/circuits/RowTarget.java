package org.cellcircuits.circuits;

/**
 * A node whose incoming edges (one row of the graph) are wanted: a feature's pre-activation, or the output target.
 *
 * @param layer the feature's block, or -1 for the output target
 * @param pos the feature's position, or -1 for the output target (it reads the last position)
 * @param feature the feature, or -1 for the output target
 */
public record RowTarget(int layer, int pos, int feature) {

  public static RowTarget feature(int layer, int pos, int feature) {
    if (layer < 0 || pos < 0 || feature < 0) {
      throw new IllegalArgumentException(String.format("feature (%d, %d, %d) needs layer, pos and feature >= 0", layer,
          pos, feature));
    }
    return new RowTarget(layer, pos, feature);
  }

  public static RowTarget output() {
    return new RowTarget(-1, -1, -1);
  }

  public boolean isOutput() {
    return layer < 0;
  }
}
