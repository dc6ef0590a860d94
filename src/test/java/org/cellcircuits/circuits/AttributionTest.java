package org.cellcircuits.circuits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.cellcircuits.model.Fp32Bounds;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.transcoder.Transcoder;
import org.junit.jupiter.api.Test;

/** The node budget: which features get rows, and that a budgeted graph is the full graph cut to those features. */
class AttributionTest {


  private static OutputTarget argmax(float[] l) {
    return OutputTarget.logit(OutputTarget.argmax(l), "argmax");
  }

  @Test
  void budgetedGraphIsTheFullGraphRestrictedToTheFeaturesOfHighestInfluence() {
    try (GptNeoX model = TinyCircuitModels.model(true, 21);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Map<Integer, Transcoder> tcs = TinyCircuitModels.transcoders(5);
      try (ReplacementWeights w = new ReplacementWeights(model, tcs);
          LocalReplacementModel cell = LocalReplacementModel.of(model, w, TinyCircuitModels.prompt(2, 7), m)) {
        OutputTarget target = argmax(cell.lastLogits());
        Attribution.Result full = Attribution.build(cell, target, new Attribution.Options(100_000, 8, 1));
        int budget = 6;
        // one batch of 3 per re-ranking: the first 3 come from the target's row alone
        Attribution.Result cut = Attribution.build(cell, target, new Attribution.Options(budget, 3, 1));
        AttributionGraph f = full.graph();
        AttributionGraph c = cut.graph();
        assertThat(cut.rowsComputed()).isEqualTo(budget + 1);
        assertThat(c.featureCount()).isEqualTo(budget);
        assertThat(full.rowsComputed()).isEqualTo(f.featureCount() + 1);

        // the first three picks: the features with the largest |edge| into the target (influence of one row)
        List<Integer> byDirect = new ArrayList<>();
        for (int i = 0; i < f.featureCount(); i++) {
          byDirect.add(i);
        }
        int tRow = f.targetIndex();
        byDirect.sort((a, b) -> Double.compare(Math.abs(f.edge(tRow, b)), Math.abs(f.edge(tRow, a))));
        for (int k = 0; k < 3; k++) {
          assertThat(c.indexOf(f.node(byDirect.get(k)))).as("pick %d: %s", k, f.node(byDirect.get(k)))
              .isGreaterThanOrEqualTo(0);
        }
        // every stored row of the cut graph is the full graph's row at the kept columns
        for (int row = 0; row < c.size(); row++) {
          if (!c.hasRow(row)) {
            continue;
          }
          int fr = f.indexOf(c.node(row));
          // another batch size rounds the same linear backward in other orders: Fp32Bounds.deep over one row's
          // reduction chain (TinyCircuitModels.rowChain), scaled by TinyCircuitModels.rowScale of the full row.
          // Measured: edges 4.8e-7 (1 libtorch thread), 7.2e-7 (2), constants 1.2e-7, bounds >= 1.8e-4.
          float[] fullRow = new float[f.size()];
          for (int s = 0; s < f.size(); s++) {
            fullRow[s] = (float) f.edge(fr, s);
          }
          double scale = TinyCircuitModels.rowScale(fullRow, f.constant(fr));
          double bound = Fp32Bounds.deep(TinyCircuitModels.rowChain(cell.ids().length), scale);
          for (int s = 0; s < c.size(); s++) {
            double expected = f.edge(fr, f.indexOf(c.node(s)));
            assertThat(c.edge(row, s)).as("%s <- %s (bound %.2e)", c.node(row), c.node(s), bound)
                .isCloseTo(expected, org.assertj.core.data.Offset.offset(bound));
          }
          assertThat(c.constant(row)).as("constant (bound %.2e)", bound).isCloseTo(f.constant(fr), org.assertj.core.data.Offset.offset(bound));
          assertThat(c.total(row)).isEqualTo(f.total(fr));
        }
      } finally {
        tcs.values().forEach(Transcoder::close);
      }
    }
  }

  /** With every feature visited, the attribution's running influence equals GraphPruning's (written independently). */
  @Test
  void partialInfluenceOfTheFullGraphEqualsNodeInfluence() {
    try (GptNeoX model = TinyCircuitModels.model(false, 22);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Map<Integer, Transcoder> tcs = TinyCircuitModels.transcoders(6);
      try (ReplacementWeights w = new ReplacementWeights(model, tcs);
          LocalReplacementModel cell = LocalReplacementModel.of(model, w, TinyCircuitModels.prompt(3, 6), m)) {
        AttributionGraph g = Attribution.build(cell, argmax(cell.lastLogits()), new Attribution.Options(100_000, 16, 1))
            .graph();
        List<float[]> rows = new ArrayList<>();
        List<Integer> rowNode = new ArrayList<>();
        rows.add(g.row(g.targetIndex()));
        rowNode.add(-1);
        for (int i = 0; i < g.featureCount(); i++) {
          rows.add(g.row(i));
          rowNode.add(i);
        }
        double[] partial = Attribution.partialInfluence(rows, rowNode, g.size());
        double[] expected = GraphPruning.influence(g);
        for (int i = 0; i < g.targetIndex(); i++) {
          assertThat(partial[i]).as("node %s", g.node(i))
              .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-9 + 1e-6 * Math.abs(expected[i])));
        }
      } finally {
        tcs.values().forEach(Transcoder::close);
      }
    }
  }

  /** The ranking: highest influence first, ties to the lower column, visited features skipped, at most n. */
  @Test
  void topUnvisitedRanksByInfluenceThenColumn() {
    java.util.Random r = new java.util.Random(3);
    for (int trial = 0; trial < 50; trial++) {
      int nF = 1 + r.nextInt(300);
      double[] influence = new double[nF + 7];
      boolean[] visited = new boolean[nF];
      for (int f = 0; f < nF; f++) {
        influence[f] = r.nextInt(20) / 4.0; // many ties
        visited[f] = r.nextInt(5) == 0;
      }
      int n = r.nextInt(nF + 3);
      List<Integer> expected = IntStream.range(0, nF).filter(f -> !visited[f]).boxed()
          .sorted((a, b) -> influence[a] != influence[b] ? Double.compare(influence[b], influence[a])
              : Integer.compare(a, b))
          .limit(n).toList();
      assertThat(Attribution.topUnvisited(influence, visited, nF, n)).as("trial %d", trial)
          .containsExactly(expected.stream().mapToInt(Integer::intValue).toArray());
    }
  }

  @Test
  void badOptionsNameTheirKey() {
    assertThatThrownBy(() -> new Attribution.Options(0, 1, 1)).hasMessageContaining("circuits.max-feature-nodes");
    assertThatThrownBy(() -> new Attribution.Options(1, 0, 1)).hasMessageContaining("circuits.batch-size");
    assertThatThrownBy(() -> new Attribution.Options(1, 1, 0)).hasMessageContaining("circuits.update-interval");
    assertThatThrownBy(() -> TargetSpec.parse("best")).hasMessageContaining("circuits.target");
    assertThat(TargetSpec.parse("difference:a b|c").other()).isEqualTo("c");
    assertThatThrownBy(() -> OutputTarget.difference(4, 4, "x")).hasMessageContaining("same token");
  }
}
