package org.cellcircuits.circuits;

/**
 * Identity of one graph node. Made only through the factory methods, so a field that does not apply to a kind is
 * always -1 and two ids of the same node are equal.
 *
 * @param kind what the node stands for
 * @param layer the block (features and error nodes), else -1
 * @param pos the prompt position (features, error and token nodes), else -1
 * @param feature the transcoder feature (features only), else -1
 */
public record NodeId(NodeKind kind, int layer, int pos, int feature) implements Comparable<NodeId> {

  public NodeId {
    if (kind == null) {
      throw new IllegalArgumentException("node kind must not be null");
    }
    boolean needsLayer = kind == NodeKind.FEATURE || kind == NodeKind.ERROR;
    boolean needsPos = kind != NodeKind.TARGET;
    boolean needsFeature = kind == NodeKind.FEATURE;
    check(kind, "layer", layer, needsLayer);
    check(kind, "pos", pos, needsPos);
    check(kind, "feature", feature, needsFeature);
  }

  private static void check(NodeKind kind, String field, int value, boolean needed) {
    if (needed ? value < 0 : value != -1) {
      throw new IllegalArgumentException(String.format(
          "%s node has %s %d; expected %s", kind, field, value, needed ? ">= 0" : "-1 (not applicable)"));
    }
  }

  public static NodeId feature(int layer, int pos, int feature) {
    return new NodeId(NodeKind.FEATURE, layer, pos, feature);
  }

  public static NodeId error(int layer, int pos) {
    return new NodeId(NodeKind.ERROR, layer, pos, -1);
  }

  public static NodeId token(int pos) {
    return new NodeId(NodeKind.TOKEN, -1, pos, -1);
  }

  public static NodeId target() {
    return new NodeId(NodeKind.TARGET, -1, -1, -1);
  }

  /**
   * A short stable text id, used as the node id in Parquet and JSON: {@code F:layer:pos:feature}, {@code E:layer:pos},
   * {@code T:pos}, {@code TARGET}.
   */
  public String key() {
    return switch (kind) {
      case FEATURE -> "F:" + layer + ":" + pos + ":" + feature;
      case ERROR -> "E:" + layer + ":" + pos;
      case TOKEN -> "T:" + pos;
      case TARGET -> "TARGET";
    };
  }

  /** Graph order: kind, then layer, then pos, then feature. */
  @Override
  public int compareTo(NodeId o) {
    int c = kind.compareTo(o.kind);
    if (c == 0) {
      c = Integer.compare(layer, o.layer);
    }
    if (c == 0) {
      c = Integer.compare(pos, o.pos);
    }
    if (c == 0) {
      c = Integer.compare(feature, o.feature);
    }
    return c;
  }

  @Override
  public String toString() {
    return key();
  }
}
