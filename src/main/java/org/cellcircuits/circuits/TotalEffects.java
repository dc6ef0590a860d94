package org.cellcircuits.circuits;

/**
 * Signed attribution of every node to the target through the whole graph: how much of the target's value the node
 * accounts for, along every path of the graph (direct edges and paths through features).
 *
 * <p>In the local replacement model an active feature's activation is its pre-activation (an active ReLU, TopK or
 * JumpReLU feature passes its pre-activation on unchanged), so a share of a feature's pre-activation reaches the target
 * in the same proportion as the feature's whole activation does. With {@code flow(target) = 1} and, for a feature f,
 * {@code flow(f) = attribution(f) / total(f)}:
 * <pre>
 *   attribution(s) = sum over rows r of flow(r) * edge(r, s)
 * </pre>
 * computed from the top layer down (a feature only feeds later layers). With every active feature in the graph, the
 * attributions of the token and error nodes plus {@code sum_r flow(r) * constant(r)} add up to the target's value:
 * gradient times input of the linear local model. Unlike circuit-tracer's influence (unsigned, normalised) this says
 * whether a gene pushes the model towards the cell type or away from it.
 */
public final class TotalEffects {
  private TotalEffects() {}

  /** Per node index: its signed attribution; the target's own entry is its value. */
  public static double[] attribution(AttributionGraph g) {
    int n = g.size();
    double[] attr = new double[n];
    flows(g, attr);
    attr[g.targetIndex()] = g.targetValue();
    return attr;
  }

  /** The part of the target's value that arrives through bias terms, {@code sum_r flow(r) * constant(r)}. */
  public static double constantShare(AttributionGraph g) {
    double[] attr = new double[g.size()];
    double[] flow = flows(g, attr);
    double sum = 0;
    for (int r = 0; r < g.size(); r++) {
      if (g.hasRow(r)) {
        sum += flow[r] * g.constant(r);
      }
    }
    return sum;
  }

  private static double[] flows(AttributionGraph g, double[] attr) {
    int n = g.size();
    double[] flow = new double[n];
    flow[g.targetIndex()] = 1;
    spread(g, g.targetIndex(), 1, attr);
    // features in descending (layer, pos, feature): every row feeding a feature comes from an earlier layer
    for (int f = g.featureCount() - 1; f >= 0; f--) {
      double total = g.total(f);
      flow[f] = total == 0 ? 0 : attr[f] / total;
      if (flow[f] != 0) {
        spread(g, f, flow[f], attr);
      }
    }
    return flow;
  }

  private static void spread(AttributionGraph g, int row, double flow, double[] attr) {
    float[] r = g.row(row);
    for (int s = 0; s < r.length; s++) {
      if (r[s] != 0) {
        attr[s] += flow * r[s];
      }
    }
  }
}
