package org.cellcircuits.circuits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * GraphPruning against a graph small enough to work by hand (expected values are literals, the arithmetic is in the
 * comments), against circuit-tracer's own small-graph test, and against the closed form {@code w ((I - N)^-1 - I)}
 * computed by a dense matrix inverse on a random acyclic graph.
 */
class GraphPruningTest {
  private static final double EPS = 1e-12;

  // The hand-worked graph: 3 layers x 2 positions, 3 features, 6 error nodes, 2 tokens, the target; 12 nodes.
  private static final int L = 0; // F(0,1,4)
  private static final int X = 1; // F(1,1,7)
  private static final int W = 2; // F(2,1,2)
  private static final int E00 = 3;
  private static final int E01 = 4;
  private static final int E10 = 5;
  private static final int E11 = 6;
  private static final int E20 = 7;
  private static final int E21 = 8;
  private static final int T0 = 9;
  private static final int T1 = 10;
  private static final int TGT = 11;

  /**
   * Raw edges (row = target, column = source), chosen so every row's absolute sum is round and every float exact:
   * <pre>
   *   TGT <- W 20, X -12.5, T1 7.5, L 6, E21 -4      |sum| 50  N: W .4, X .25, T1 .15, L .12, E21 .08
   *   W   <- T1 6, X -3, E11 1                       |sum| 10  N: T1 .6, X .3, E11 .1
   *   X   <- E01 3, E00 -1                           |sum|  4  N: E01 .75, E00 .25
   *   L   <- T0 1, T1 -1                             |sum|  2  N: T0 .5, T1 .5
   * </pre>
   * Target value 4 (the row sums to 11, a constant of -7).
   */
  private static AttributionGraph handGraph() {
    int n = 12;
    float[][] rows = new float[n][];
    rows[TGT] = new float[n];
    rows[TGT][W] = 20f;
    rows[TGT][X] = -12.5f;
    rows[TGT][T1] = 7.5f;
    rows[TGT][L] = 6f;
    rows[TGT][E21] = -4f;
    rows[W] = new float[n];
    rows[W][T1] = 6f;
    rows[W][X] = -3f;
    rows[W][E11] = 1f;
    rows[X] = new float[n];
    rows[X][E01] = 3f;
    rows[X][E00] = -1f;
    rows[L] = new float[n];
    rows[L][T0] = 1f;
    rows[L][T1] = -1f;
    List<NodeId> nodes = new ArrayList<>(List.of(NodeId.feature(0, 1, 4), NodeId.feature(1, 1, 7),
        NodeId.feature(2, 1, 2)));
    for (int layer = 0; layer < 3; layer++) {
      for (int pos = 0; pos < 2; pos++) {
        nodes.add(NodeId.error(layer, pos));
      }
    }
    nodes.add(NodeId.token(0));
    nodes.add(NodeId.token(1));
    nodes.add(NodeId.target());
    double[] totals = new double[n];
    java.util.Arrays.fill(totals, Double.NaN);
    totals[TGT] = 4;
    totals[L] = 0.5;
    totals[X] = 2;
    totals[W] = 3;
    return new AttributionGraph(nodes, new double[n], rows, new double[n], totals, 3, 2, "logit ' endothelial'");
  }

  /*
   * Influence by hand, w = one-hot(TGT):
   *   step 1 (w N):   L .12, X .25, W .4, E21 .08, T1 .15
   *   step 2:         from W .4: T1 .24, X .12, E11 .04; from X .25: E01 .1875, E00 .0625; from L .12: T0 .06, T1 .06
   *   step 3:         from X .12 (reached in step 2): E01 .09, E00 .03
   *   step 4:         nothing left
   *   totals: L .12, X .37, W .4, E00 .0925, E01 .2775, E11 .04, E21 .08, T0 .06, T1 .45; E10, E20, TGT 0.
   *   Sum 1.89; tokens + errors = .51 + .49 = 1 (every path ends at a token or an error node).
   */
  private static final double[] HAND_INFLUENCE = {0.12, 0.37, 0.4, 0.0925, 0.2775, 0, 0.04, 0, 0.08, 0.06, 0.45, 0};

  @Test
  void influenceOfTheHandWorkedGraph() {
    assertThat(GraphPruning.influence(handGraph())).containsExactly(HAND_INFLUENCE, within(EPS));
  }

  @Test
  void findThresholdMatchesCircuitTracersSearch() {
    // sorted 4 3 2 1, cumulative shares .4 .7 .9 1
    double[] scores = {1, 3, 2, 4};
    assertThat(GraphPruning.findThreshold(scores, 0.5)).isEqualTo(3);
    assertThat(GraphPruning.findThreshold(scores, 0.7)).as("left search: a share met exactly stops there").isEqualTo(3);
    assertThat(GraphPruning.findThreshold(scores, 0.71)).isEqualTo(2);
    assertThat(GraphPruning.findThreshold(scores, 0.4)).isEqualTo(4);
    assertThat(GraphPruning.findThreshold(scores, 0)).as("share 0 keeps only the top").isEqualTo(4);
    assertThat(GraphPruning.findThreshold(scores, 1)).isEqualTo(1);
    assertThat(GraphPruning.findThreshold(scores, 1.5)).as("clamped to the last").isEqualTo(1);
    assertThat(scores).containsExactly(1, 3, 2, 4);
    // all zero: the shares are 0/0 = NaN, torch's search runs to the end and clamps
    assertThat(GraphPruning.findThreshold(new double[] {0, 0, 0}, 0.5)).isEqualTo(0);
    // a NaN sorts first (descending) and poisons every share: the search runs to the end, the smallest score
    assertThat(GraphPruning.findThreshold(new double[] {1, Double.NaN, 2}, 0.5)).isEqualTo(1);
    assertThatThrownBy(() -> GraphPruning.findThreshold(new double[0], 0.5)).isInstanceOf(
        IllegalArgumentException.class);
  }

  /*
   * prune(nodeThreshold .7, edgeThreshold .6), by hand.
   *
   * Node threshold. Sorted influence T1 .45, W .4, X .37, E01 .2775, L .12, E00 .0925, E21 .08, T0 .06, E11 .04, 0 x3.
   * Cumulative sums .45 .85 1.22 1.4975 1.6175 1.71 1.79 1.85 1.89 (then 1.89); shares /1.89: .238 .450 .646 .792 ...
   * First share >= .7 is .792 at index 3, so the cut is .2775: keep T1 W X E01 (and T0, TGT); drop feature L and
   * E00 E11 E21 (and the zero nodes E10 E20).
   *
   * Pruned, re-normalised rows:  TGT <- W 20, X 12.5, T1 7.5 (|sum| 40): W .5, X .3125, T1 .1875
   *                              W   <- T1 6, X 3 (|sum| 9): T1 2/3, X 1/3
   *                              X   <- E01 3 (|sum| 3): E01 1;  L's row is gone.
   * Pruned influence + w: TGT 1; W .5; X .3125 + .5/3 = 23/48; T1 .1875 + .5*2/3 = 25/48; E01 23/48.
   * Edge scores (N'[t,s] * that of t), in 48ths:
   *   TGT<-W 24, X<-E01 23, W<-T1 16, TGT<-X 15, TGT<-T1 9, W<-X 8; sum 95.
   * Cumulative shares 24/95 47/95 63/95 ...; the first >= .6 is 63/95 at index 2: cut 16/48.
   * Kept: TGT<-W, X<-E01, W<-T1. The edge threshold drops TGT<-X, TGT<-T1 and W<-X.
   *
   * Cleanup. Pass 1 (edges as thresholded): X has no kept outgoing edge (X->TGT, X->W dropped): X goes.
   * Loop 1: X's edges cleared, so E01 (whose only edge fed X) has no outgoing edge: E01 goes. Loop 2: stable.
   * Final nodes: W, T0, T1, TGT. Final edges: TGT<-W, W<-T1.
   *
   * Cumulative influence (sorted order as above), per node: T1 .45/1.89, W .85/1.89, X 1.22/1.89, E01 1.4975/1.89,
   * L 1.6175/1.89, E00 1.71/1.89, E21 1.79/1.89, T0 1.85/1.89, E11 and the zero nodes 1.
   */
  @Test
  void pruneTheHandWorkedGraph() {
    AttributionGraph g = handGraph();
    PruneResult r = GraphPruning.prune(g, 0.7, 0.6);

    assertThat(r.keptNodes()).containsExactly(
        false, false, true, // L, X, W
        false, false, false, false, false, false, // errors
        true, true, true); // T0, T1, TGT
    assertThat(keptEdgeList(r)).containsExactly(List.of(W, T1), List.of(TGT, W));
    for (int t = 0; t < g.size(); t++) {
      assertThat(r.keptEdges()[t] == null).as("row %d stored", t).isEqualTo(!g.hasRow(t));
    }
    assertThat(r.keptNodeCount()).isEqualTo(4);
    assertThat(r.keptEdgeCount()).isEqualTo(2);
    assertThat(r.influence()).containsExactly(HAND_INFLUENCE, within(EPS));
    assertThat(r.cumulativeInfluence()).containsExactly(new double[] {
        1.6175 / 1.89, 1.22 / 1.89, 0.85 / 1.89, // L X W
        1.71 / 1.89, 1.4975 / 1.89, 1, 1, 1, 1.79 / 1.89, // E00 E01 E10 E11 E20 E21
        1.85 / 1.89, 0.45 / 1.89, 1}, within(EPS)); // T0 T1 TGT
  }

  @Test
  void pruneStagesOfTheHandWorkedGraph() {
    AttributionGraph g = handGraph();
    // Node share .8: first share >= .8 is 1.6175/1.89 = .856 at index 4, cut .12, so L stays; it then needs a kept
    // outgoing edge. With edge share 1 every edge with a non-zero score stays and nothing is stranded: kept are
    // L X W E01 and the tokens and target, with all their non-zero edges among them.
    PruneResult all = GraphPruning.prune(g, 0.8, 1.0);
    assertThat(all.keptNodes()).containsExactly(true, true, true, false, true, false, false, false, false, true, true,
        true);
    assertThat(keptEdgeList(all)).containsExactly(List.of(L, T0), List.of(L, T1), List.of(X, E01), List.of(W, X),
        List.of(W, T1), List.of(TGT, L), List.of(TGT, X), List.of(TGT, W), List.of(TGT, T1));
    // Node share .8 again (L kept), edge share .9. Pruned rows: TGT <- W 20, X 12.5, T1 7.5, L 6 (|sum| 46);
    // W <- T1 2/3, X 1/3; X <- E01 1; L <- T0 .5, T1 .5. Influence + w: TGT 1, W 20/46, L 6/46,
    // X 12.5/46 + (20/46)/3 = 57.5/138. Edge scores in 276ths: TGT<-W 120, X<-E01 115, W<-T1 80, TGT<-X 75,
    // TGT<-T1 45, W<-X 40, TGT<-L 36, L<-T0 18, L<-T1 18; sum 547, cumulative 120 235 315 390 435 475 511 ...
    // The first share >= .9 is 511/547 at index 6: cut 36, so L's outgoing edge stays but both its inputs go.
    // Pass 1 drops L for want of an incoming edge; loop 1 clears TGT<-L; loop 2 is stable.
    PruneResult noInput = GraphPruning.prune(g, 0.8, 0.9);
    assertThat(keptNodeList(noInput)).containsExactly(X, W, E01, T0, T1, TGT);
    assertThat(keptEdgeList(noInput)).containsExactly(List.of(X, E01), List.of(W, X), List.of(W, T1),
        List.of(TGT, X), List.of(TGT, W), List.of(TGT, T1));
    // Node share 0: the cut is the top influence, T1's (a token), so every feature and error node goes. In the
    // pruned graph only TGT<-T1 has a score (normalised 1 x weight 1 = 1), and edge share 0 keeps that top edge.
    PruneResult none = GraphPruning.prune(g, 0, 0);
    assertThat(none.keptNodes()).containsExactly(false, false, false, false, false, false, false, false, false, true,
        true, true);
    assertThat(keptEdgeList(none)).containsExactly(List.of(TGT, T1));
  }

  /**
   * When no edge of the pruned graph scores above 0, circuit-tracer's edge cut is 0 and its mask keeps every entry,
   * even those of dropped nodes (the cleanup loop never runs). Here no kept edge may touch a dropped node.
   */
  @Test
  void noKeptEdgeTouchesADroppedNodeEvenWhenNothingScores() {
    // 1 layer x 1 position: F(0,0,1) and F(0,0,2) both read the token; the target reads both equally.
    // Influence F1 .5, F2 .5, E00 0, T0 1, TGT 0. Node share 0: cut 1, only T0 and TGT stay, so the pruned target
    // row is empty and every edge score is 0.
    int n = 5;
    float[][] rows = new float[n][];
    rows[0] = new float[n];
    rows[0][3] = 1;
    rows[1] = new float[n];
    rows[1][3] = 1;
    rows[4] = new float[n];
    rows[4][0] = 1;
    rows[4][1] = -1;
    AttributionGraph g = new AttributionGraph(List.of(NodeId.feature(0, 0, 1), NodeId.feature(0, 0, 2),
        NodeId.error(0, 0), NodeId.token(0), NodeId.target()), new double[n], rows, new double[n], new double[n], 1, 1,
        "t");
    PruneResult r = GraphPruning.prune(g, 0, 0.5);
    assertThat(keptNodeList(r)).containsExactly(3, 4);
    for (List<Integer> edge : keptEdgeList(r)) {
      assertThat(r.keptNodes()[edge.get(0)] && r.keptNodes()[edge.get(1)]).as("edge %s", edge).isTrue();
    }
    assertThat(r.keptEdges()[0]).containsOnly(false);
    assertThat(r.keptEdges()[4][0]).isFalse();
  }

  /*
   * Top-k tracing on the hand graph, by |edge|:
   *   TGT: W 20 > X 12.5 > T1 7.5 > L 6 > E21 4;  W: T1 6 > X 3 > E11 1;  X: E01 3 > E00 1 (two inputs only).
   * k=1: TGT->W, W->T1 (a token: stop). Nodes W, T1, + T0, TGT.
   * k=2: TGT->W, TGT->X; W->T1, W->X (already reached); X->E01, X->E00 (errors: stop).
   * k=3: adds TGT->T1 and W->E11; X still has only its two non-zero inputs.
   */
  @Test
  void greedyOnTheHandWorkedGraph() {
    AttributionGraph g = handGraph();
    PruneResult k1 = GraphPruning.greedy(g, 1);
    assertThat(keptNodeList(k1)).containsExactly(W, T0, T1, TGT);
    assertThat(keptEdgeList(k1)).containsExactly(List.of(W, T1), List.of(TGT, W));
    assertThat(k1.influence()).containsExactly(HAND_INFLUENCE, within(EPS));
    assertThat(k1.cumulativeInfluence()[T1]).isCloseTo(0.45 / 1.89, within(EPS));

    PruneResult k2 = GraphPruning.greedy(g, 2);
    assertThat(keptNodeList(k2)).containsExactly(X, W, E00, E01, T0, T1, TGT);
    assertThat(keptEdgeList(k2)).containsExactly(List.of(X, E00), List.of(X, E01), List.of(W, X), List.of(W, T1),
        List.of(TGT, X), List.of(TGT, W));

    PruneResult k3 = GraphPruning.greedy(g, 3);
    assertThat(keptNodeList(k3)).containsExactly(X, W, E00, E01, E11, T0, T1, TGT);
    assertThat(keptEdgeList(k3)).containsExactly(List.of(X, E00), List.of(X, E01), List.of(W, X), List.of(W, E11),
        List.of(W, T1), List.of(TGT, X), List.of(TGT, W), List.of(TGT, T1));
    assertThat(k3.keptEdges()[E01]).isNull();
  }

  @Test
  void greedyBreaksTiesTowardsTheLowerIndex() {
    AttributionGraph g = handGraph();
    g.row(W)[E11] = -3f; // W <- T1 6, X -3, E11 -3: X and E11 tie for second
    PruneResult k2 = GraphPruning.greedy(g, 2);
    assertThat(k2.keptEdges()[W][T1]).isTrue();
    assertThat(k2.keptEdges()[W][X]).isTrue();
    assertThat(k2.keptEdges()[W][E11]).isFalse();

    AttributionGraph h = handGraph();
    h.row(W)[E11] = -3f;
    h.row(W)[T1] = 2f; // W <- X -3, E11 -3, T1 2: X and E11 tie for first
    PruneResult k1 = GraphPruning.greedy(h, 1);
    assertThat(keptNodeList(k1)).containsExactly(X, W, E01, T0, T1, TGT);
    assertThat(k1.keptEdges()[W][X]).isTrue();
    assertThat(k1.keptEdges()[W][E11]).isFalse();
  }

  /*
   * replacement = tokens / (tokens + errors) = (.06 + .45) / (.06 + .45 + .0925 + .2775 + .04 + .08) = .51 / 1.
   * completeness: per node (1 - normalised error share of its row) x (influence + w):
   *   TGT (1 - .08) x 1 = .92;  W (1 - .1) x .4 = .36;  X (1 - 1) x .37 = 0;  L 1 x .12 = .12;
   *   rows not stored count 1 x influence: .0925 + .2775 + .04 + .08 + .06 + .45 = 1.
   *   Sum 2.40 over weights 1.89 + 1 = 2.89.
   * errorShare = E21's edge into the target / target value = -4 / 4.
   */
  @Test
  void scoresOfTheHandWorkedGraph() {
    GraphScores s = GraphPruning.scores(handGraph());
    assertThat(s.replacement()).isCloseTo(0.51, within(EPS));
    assertThat(s.completeness()).isCloseTo(2.40 / 2.89, within(EPS));
    assertThat(s.errorShare()).isCloseTo(-1.0, within(EPS));
  }

  @Test
  void errorShareIsNaNForATargetOfZero() {
    AttributionGraph h = handGraph();
    List<NodeId> nodes = new ArrayList<>();
    float[][] rows = new float[h.size()][];
    double[] totals = new double[h.size()];
    for (int i = 0; i < h.size(); i++) {
      nodes.add(h.node(i));
      rows[i] = h.row(i);
      totals[i] = h.total(i);
    }
    totals[TGT] = 0;
    AttributionGraph g = new AttributionGraph(nodes, new double[h.size()], rows, new double[h.size()], totals, 3, 2,
        "zero");
    assertThat(GraphPruning.scores(g).errorShare()).isNaN();
  }

  /**
   * circuit-tracer's tests/test_graph.py::test_small_graph: 5 features, 2 layers x 2 positions, every edge 10;
   * expected influence copied from that test.
   */
  @Test
  void influenceMatchesCircuitTracersSmallGraph() {
    int n = 12;
    float[][] rows = new float[n][];
    for (int f = 0; f < 5; f++) {
      rows[f] = new float[n];
    }
    rows[11] = new float[n];
    for (int s : new int[] {1, 3, 6, 8}) {
      rows[11][s] = 10;
    }
    for (int s : new int[] {0, 1, 6}) {
      rows[3][s] = 10;
    }
    rows[1][9] = 10;
    rows[1][10] = 10;
    rows[0][9] = 10;
    List<NodeId> nodes = new ArrayList<>(List.of(NodeId.feature(0, 0, 1), NodeId.feature(0, 1, 2),
        NodeId.feature(0, 1, 3), NodeId.feature(1, 1, 4), NodeId.feature(1, 1, 5)));
    for (int layer = 0; layer < 2; layer++) {
      for (int pos = 0; pos < 2; pos++) {
        nodes.add(NodeId.error(layer, pos));
      }
    }
    nodes.add(NodeId.token(0));
    nodes.add(NodeId.token(1));
    nodes.add(NodeId.target());
    AttributionGraph g = new AttributionGraph(nodes, new double[n], rows, new double[n], new double[n], 2, 2, "t");
    assertThat(GraphPruning.influence(g)).containsExactly(new double[] {
        1.0 / 12, 1.0 / 3, 0, 1.0 / 4, 0, 0, 1.0 / 3, 0, 1.0 / 4, 1.0 / 4, 1.0 / 6, 0}, within(EPS));
  }

  /** Random acyclic graph of 30 nodes: the power series must equal w ((I - N)^-1 - I) from a dense inverse. */
  @Test
  void influenceMatchesTheClosedForm() {
    Random random = new Random(20250914);
    int layers = 3;
    int positions = 3;
    TreeSet<NodeId> features = new TreeSet<>();
    while (features.size() < 17) {
      features.add(NodeId.feature(random.nextInt(layers), random.nextInt(positions), random.nextInt(50)));
    }
    List<NodeId> nodes = new ArrayList<>(features);
    for (int layer = 0; layer < layers; layer++) {
      for (int pos = 0; pos < positions; pos++) {
        nodes.add(NodeId.error(layer, pos));
      }
    }
    for (int pos = 0; pos < positions; pos++) {
      nodes.add(NodeId.token(pos));
    }
    nodes.add(NodeId.target());
    int n = nodes.size();
    assertThat(n).isEqualTo(30);
    float[][] rows = new float[n][];
    for (int t = 0; t < n; t++) {
      NodeId target = nodes.get(t);
      if (target.kind() != NodeKind.FEATURE && target.kind() != NodeKind.TARGET) {
        continue;
      }
      rows[t] = new float[n];
      for (int s = 0; s < n; s++) {
        NodeId source = nodes.get(s);
        boolean upstream = switch (source.kind()) {
          case FEATURE, ERROR -> target.kind() == NodeKind.TARGET
              || (source.layer() < target.layer() && source.pos() <= target.pos());
          case TOKEN -> target.kind() == NodeKind.TARGET || source.pos() <= target.pos();
          case TARGET -> false;
        };
        if (upstream && random.nextDouble() < 0.6) {
          rows[t][s] = (float) random.nextGaussian();
        }
      }
    }
    AttributionGraph g = new AttributionGraph(nodes, new double[n], rows, new double[n], new double[n], layers,
        positions, "random");

    double[][] identityMinusN = new double[n][n];
    for (int t = 0; t < n; t++) {
      identityMinusN[t][t] = 1;
      if (rows[t] == null) {
        continue;
      }
      double sum = 0;
      for (float v : rows[t]) {
        sum += Math.abs(v);
      }
      if (sum == 0) {
        continue; // a feature no sampled edge reaches: its normalised row is zero
      }
      for (int s = 0; s < n; s++) {
        identityMinusN[t][s] -= Math.abs(rows[t][s]) / sum;
      }
    }
    double[][] inverse = invert(identityMinusN);
    double[] expected = new double[n];
    for (int s = 0; s < n; s++) {
      expected[s] = inverse[n - 1][s] - (s == n - 1 ? 1 : 0);
    }
    double[] actual = GraphPruning.influence(g);
    assertThat(actual).containsExactly(expected, within(1e-12));
    assertThat(actual[n - 2]).as("some influence reaches the last token").isGreaterThan(0);
  }

  @Test
  void aCycleIsReportedNotLoopedOn() {
    AttributionGraph g = handGraph();
    g.row(X)[W] = 1f; // X (layer 1) now reads W (layer 2), which reads X
    assertThatThrownBy(() -> GraphPruning.influence(g)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cycle");
  }

  @Test
  void badThresholdsAndKNameTheirKey() {
    AttributionGraph g = handGraph();
    assertThatThrownBy(() -> GraphPruning.prune(g, -0.1, 0.5)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("circuits.node-threshold").hasMessageContaining("-0.1");
    assertThatThrownBy(() -> GraphPruning.prune(g, Double.NaN, 0.5)).hasMessageContaining("circuits.node-threshold")
        .hasMessageContaining("NaN");
    assertThatThrownBy(() -> GraphPruning.prune(g, 0.5, 1.5)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("circuits.edge-threshold").hasMessageContaining("1.5");
    assertThatThrownBy(() -> GraphPruning.greedy(g, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("circuits.greedy-k").hasMessageContaining("0");
  }

  // ---------------------------------------------------------------------------------------------------------------

  private static List<Integer> keptNodeList(PruneResult r) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < r.keptNodes().length; i++) {
      if (r.keptNodes()[i]) {
        out.add(i);
      }
    }
    return out;
  }

  /** Kept edges as (target, source) pairs, row-major. */
  private static List<List<Integer>> keptEdgeList(PruneResult r) {
    List<List<Integer>> out = new ArrayList<>();
    for (int t = 0; t < r.keptEdges().length; t++) {
      boolean[] row = r.keptEdges()[t];
      if (row == null) {
        continue;
      }
      for (int s = 0; s < row.length; s++) {
        if (row[s]) {
          out.add(List.of(t, s));
        }
      }
    }
    return out;
  }

  /** Gauss-Jordan elimination with partial pivoting. */
  private static double[][] invert(double[][] a) {
    int n = a.length;
    double[][] m = new double[n][2 * n];
    for (int i = 0; i < n; i++) {
      System.arraycopy(a[i], 0, m[i], 0, n);
      m[i][n + i] = 1;
    }
    for (int c = 0; c < n; c++) {
      int pivot = c;
      for (int r = c + 1; r < n; r++) {
        if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) {
          pivot = r;
        }
      }
      double[] swap = m[c];
      m[c] = m[pivot];
      m[pivot] = swap;
      double p = m[c][c];
      assertThat(Math.abs(p)).as("pivot %d", c).isGreaterThan(1e-9);
      for (int j = 0; j < 2 * n; j++) {
        m[c][j] /= p;
      }
      for (int r = 0; r < n; r++) {
        if (r != c && m[r][c] != 0) {
          double f = m[r][c];
          for (int j = 0; j < 2 * n; j++) {
            m[r][j] -= f * m[c][j];
          }
        }
      }
    }
    double[][] inv = new double[n][n];
    for (int i = 0; i < n; i++) {
      System.arraycopy(m[i], n, inv[i], 0, n);
    }
    return inv;
  }
}
