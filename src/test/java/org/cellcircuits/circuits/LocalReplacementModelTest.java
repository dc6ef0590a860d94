package org.cellcircuits.circuits;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.assertj.core.data.Offset;
import org.cellcircuits.circuits.TinyCircuitModels.Arch;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.Fp32Bounds;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.transcoder.Transcoder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The local replacement model and its attribution graph on tiny random models with parallel and sequential residuals
 * and transcoders of each activation (ReLU, TopK, JumpReLU, a loaded BatchTopK), with and without a skip path:
 * sums of edges against the real forward's values, and every edge against an intervention in the frozen model run
 * through {@link GptNeoX}'s own forward (patterns and LayerNorm scales frozen by hook edits, MLPs held at their
 * outputs but for the skip paths, which follow their inputs through the transcoder's own decode), which shares no code
 * with the backward that made the edges.
 *
 * <p>Tolerances: everything is fp32 with values of order 1-10 summed over at most a few hundred terms, so rounding
 * is ~1e-6 of the sum of the terms' magnitudes; 1e-4 of that scale (the bound) leaves two orders of margin and
 * still fails for any missing term, which is of order 0.01-1.
 */
class LocalReplacementModelTest {
  private static final int T = 6;

  private record Setup(GptNeoX model, Map<Integer, Transcoder> tcs, ReplacementWeights weights,
      LocalReplacementModel cell, NDManager manager) implements AutoCloseable {
    @Override
    public void close() {
      cell.close();
      weights.close();
      tcs.values().forEach(Transcoder::close);
      manager.close();
      model.close();
    }
  }

  /** Every architecture of the tiny transcoders, with a parallel and a sequential residual. */
  static Stream<Arguments> cases() {
    return Arch.ALL.stream().flatMap(a -> Stream.of(Arguments.of(true, a), Arguments.of(false, a)));
  }

  private static Setup setup(boolean parallel, Arch arch) {
    GptNeoX model = TinyCircuitModels.model(parallel, parallel ? 3 : 4);
    Map<Integer, Transcoder> tcs = TinyCircuitModels.transcoders(7, arch);
    ReplacementWeights w = new ReplacementWeights(model, tcs);
    NDManager m = NDManager.newBaseManager(Device.cpu());
    LocalReplacementModel cell = LocalReplacementModel.of(model, w, TinyCircuitModels.prompt(11, T), m);
    return new Setup(model, tcs, w, cell, m);
  }

  private static OutputTarget argmaxTarget(LocalReplacementModel cell) {
    int best = OutputTarget.argmax(cell.lastLogits());
    return OutputTarget.logit(best, "token " + best);
  }

  private static AttributionGraph fullGraph(LocalReplacementModel cell, OutputTarget target) {
    return Attribution.build(cell, target, new Attribution.Options(1_000_000, 16, 4)).graph();
  }

  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void edgesPlusBiasTermsSumToEveryPreActivationAndToTheLogit(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch)) {
      OutputTarget target = argmaxTarget(s.cell());
      AttributionGraph g = fullGraph(s.cell(), target);
      assertThat(g.featureCount()).as("active features").isBetween(20, 3 * T * TinyCircuitModels.FEATURES);
      int rows = 0;
      for (int i = 0; i < g.size(); i++) {
        if (!g.hasRow(i)) {
          continue;
        }
        rows++;
        double sum = g.constant(i);
        double scale = Math.abs(g.constant(i));
        for (float e : g.row(i)) {
          sum += e;
          scale += Math.abs(e);
        }
        // A row's edges come from the backward, its total from the forward: the same linear function in other
        // roundings, within Fp32Bounds.deep over one row's chain (TinyCircuitModels.rowChain) at the row's sum of
        // |terms|. Measured at 1 and 2 libtorch threads: max |difference| 1.7e-5, smallest margin 52x.
        double bound = Fp32Bounds.deep(TinyCircuitModels.rowChain(T), scale);
        assertThat(Math.abs(sum - g.total(i))).as("row %s: edges + constant %s vs %s", g.node(i), sum, g.total(i))
            .isLessThanOrEqualTo(bound);
      }
      assertThat(rows).isEqualTo(g.featureCount() + 1);
      assertThat(g.targetValue()).isEqualTo(s.cell().lastLogits()[(int) target.token()], org.assertj.core.data.Offset.offset(0.0));
    }
  }

  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void logitDifferenceTargetIsComplete(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch)) {
      float[] logits = s.cell().lastLogits();
      OutputTarget target = OutputTarget.difference(3, 9, "3 - 9");
      AttributionGraph g = fullGraph(s.cell(), target);
      int t = g.targetIndex();
      double sum = g.constant(t);
      double scale = Math.abs(sum);
      for (float e : g.row(t)) {
        sum += e;
        scale += Math.abs(e);
      }
      assertThat(g.targetValue()).isEqualTo((double) logits[3] - logits[9]);
      // As for every row: Fp32Bounds.deep over one row's chain at the row's sum of |terms|. Measured at 1 and 2
      // libtorch threads: max |difference| 1.4e-5, smallest margin 641x.
      double bound = Fp32Bounds.deep(TinyCircuitModels.rowChain(T), scale);
      assertThat(Math.abs(sum - g.targetValue())).isLessThanOrEqualTo(bound);
    }
  }

  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void transcodersPlusErrorNodesReproduceTheOriginalLogits(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch); NDManager m = NDManager.newBaseManager(Device.cpu())) {
      TokenBatch batch = TokenBatch.rightPadded(List.of(s.cell().ids()), 0);
      float[] original;
      try (ActivationCache c = s.model().run(m, batch, ForwardOptions.logitsOnly())) {
        original = c.logits().toFloatArray();
      }
      ForwardOptions replaced = ForwardOptions.logitsOnly();
      for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
        Transcoder tc = s.tcs().get(l);
        NDArray err = s.cell().errorVectors(l);
        replaced = replaced.replacingMlp(l, x -> tc.forward(x).add(err));
      }
      float[] withErrors;
      try (ActivationCache c = s.model().run(m, batch, replaced)) {
        withErrors = c.logits().toFloatArray();
      }
      assertThat(withErrors).hasSameSizeAs(original);
      // Measured at 1 and 2 libtorch threads: max |difference| 7.2e-5, smallest margin 101x.
      double bound = replacedForwardBound(s, original);
      for (int i = 0; i < original.length; i++) {
        assertThat((double) Math.abs(withErrors[i] - original[i])).as("logit %d", i).isLessThanOrEqualTo(bound);
      }
    }
  }

  /**
   * Total effects: token, error and bias-term attributions add up to the target, and a token's attribution is the
   * derivative of the target along its embedding in the frozen model with live transcoders (finite difference).
   */
  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void totalEffectsAddUpAndMatchAFiniteDifferenceWithLiveTranscoders(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch); NDManager m = NDManager.newBaseManager(Device.cpu())) {
      OutputTarget target = argmaxTarget(s.cell());
      AttributionGraph g = fullGraph(s.cell(), target);
      double[] attr = TotalEffects.attribution(g);
      double sum = TotalEffects.constantShare(g);
      double scale = Math.abs(sum);
      for (int i = g.errorStart(); i < g.targetIndex(); i++) {
        sum += attr[i];
        scale += Math.abs(attr[i]);
      }
      // The target row's terms regrouped by their sources: Fp32Bounds.deep over one row's chain at the sum of
      // |terms|. Measured at 1 and 2 libtorch threads: max |difference| 3.1e-5, smallest margin 233x.
      double bound = Fp32Bounds.deep(TinyCircuitModels.rowChain(T), scale);
      assertThat(Math.abs(sum - g.targetValue())).as("tokens + errors + bias terms vs the target")
          .isLessThanOrEqualTo(bound);

      TokenBatch batch = TokenBatch.rightPadded(List.of(s.cell().ids()), 0);
      ActivationCache original = s.model().run(m, batch, ForwardOptions.logitsOnly().keeping(n -> true));
      // The replaced model is piecewise linear, and TopK and JumpReLU features switch with a jump: the derivative is
      // the frozen model's only while a step keeps every layer's active set. Each token takes the largest step of
      // 1e-2, 3e-3, 1e-3 that does; a token that switches a feature even at 1e-3 is not compared, and most must be.
      // At 1e-3 fp32 rounding of the two logits (~1e-5 each) costs up to ~1e-2 of the derivative: the 1e-2 bound,
      // with a 10 times margin at 1e-2.
      boolean[][] active = new boolean[TinyCircuitModels.LAYERS][];
      for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
        active[l] = nonZero(s.tcs().get(l).encode(original.get(HookNames.ln2Normalized(l))));
      }
      int compared = 0;
      for (int p = 0; p < T; p++) {
        for (double eps : new double[] {1e-2, 3e-3, 1e-3}) {
          double[] values = new double[2];
          boolean[] switched = new boolean[1];
          for (int side = 0; side < 2; side++) {
            ForwardOptions o = ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST);
            for (String name : HookNames.all(TinyCircuitModels.LAYERS)) {
              if (name.endsWith("hook_scale") || name.endsWith("hook_pattern")) {
                NDArray frozen = original.get(name);
                o = o.editing(name, x -> frozen);
              }
            }
            for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
              Transcoder tc = s.tcs().get(l);
              NDArray err = s.cell().errorVectors(l);
              boolean[] before = active[l];
              o = o.replacingMlp(l, x -> {
                NDArray z = tc.encode(x);
                switched[0] |= !java.util.Arrays.equals(nonZero(z), before);
                return tc.decode(z, x).add(err);
              });
            }
            float[] mask = new float[T];
            mask[p] = (float) (side == 0 ? eps : -eps);
            NDArray scaleAt = m.create(mask, new ai.djl.ndarray.types.Shape(1, T, 1));
            o = o.editing(HookNames.embed(), x -> x.add(x.mul(scaleAt)));
            try (ActivationCache c = s.model().run(m, batch, o)) {
              values[side] = target.value(c.logits().toFloatArray());
            }
          }
          if (switched[0]) {
            continue;
          }
          compared++;
          double derivative = (values[0] - values[1]) / (2 * eps);
          double expected = attr[g.tokenIndex(p)];
          assertThat(Math.abs(derivative - expected)).as("token %d, step %s: finite difference %s, attribution %s",
              p, eps, derivative, expected).isLessThanOrEqualTo(1e-2 * Math.max(1, Math.abs(expected)));
          break;
        }
      }
      assertThat(compared).as("tokens whose steps keep the active set").isGreaterThanOrEqualTo(T - 2);
      original.close();
    }
  }

  private static boolean[] nonZero(NDArray z) {
    float[] v = z.toFloatArray();
    boolean[] on = new boolean[v.length];
    for (int i = 0; i < v.length; i++) {
      on[i] = v[i] != 0;
    }
    return on;
  }

  /**
   * The rows do not depend on how they are computed: each engine (gradients factored into terms, dense, or chosen by
   * cost), any batch size, all feature columns or some, give every row the edges of that row computed alone and
   * dense (which the intervention test below checks edge by edge).
   */
  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void everyEngineBatchAndColumnChoiceGivesTheSameRows(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch)) {
      LocalReplacementModel cell = s.cell();
      OutputTarget target = argmaxTarget(cell);
      int nF = cell.featureCount();
      int[] some = IntStream.range(0, nF).filter(i -> i % 3 == 1).toArray();
      List<RowTarget> all = new ArrayList<>();
      all.add(RowTarget.output());
      for (int f = 0; f < nF; f++) {
        all.add(cell.featureTarget(f));
      }
      cell.engine(LocalReplacementModel.Engine.DENSE);
      float[][] alone = new float[all.size()][];
      double[] aloneConstant = new double[all.size()];
      for (int i = 0; i < all.size(); i++) {
        LocalReplacementModel.Rows one = cell.rows(List.of(all.get(i)), target);
        alone[i] = one.edges()[0];
        aloneConstant[i] = one.constants()[0];
      }
      for (LocalReplacementModel.Engine engine : LocalReplacementModel.Engine.values()) {
        cell.engine(engine);
        for (int batch : new int[] {1, 5, 64}) {
          for (int[] kept : java.util.Arrays.asList(null, some)) {
            for (int from = 0; from < all.size(); from += batch) {
              List<RowTarget> targets = all.subList(from, Math.min(all.size(), from + batch));
              LocalReplacementModel.Rows rows = cell.rows(targets, target, kept);
              for (int i = 0; i < targets.size(); i++) {
                float[] expected = alone[from + i];
                float[] got = rows.edges()[i];
                // the same linear backward in other shapes and factorings, so other summation orders:
                // Fp32Bounds.deep over one row's reduction chain, scaled by TinyCircuitModels.rowScale. Measured at
                // most 1.5e-5 (1 libtorch thread), 1.9e-5 (2), smallest margin 49x; bounds 2.1e-5 .. 1.8e-3.
                double bound = Fp32Bounds.deep(TinyCircuitModels.rowChain(T), TinyCircuitModels.rowScale(expected, aloneConstant[from + i]));
                int width = kept == null ? nF : kept.length;
                assertThat(got).hasSize(width + cell.columns() - nF);
                for (int col = 0; col < got.length; col++) {
                  int full = col < width ? (kept == null ? col : kept[col]) : col - width + nF;
                  assertThat((double) got[col]).as("%s, batch %d, %s columns: row %s, column %d (bound %.2e)", engine, batch,
                      kept == null ? "all" : "some", targets.get(i), full, bound)
                      .isCloseTo(expected[full], Offset.offset(bound));
                }
              }
            }
          }
        }
      }
    }
  }

  /** With nothing zeroed, the ablation check's replaced model reads the original model's value of the target. */
  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void ablationWithNothingZeroedReadsTheOriginalTarget(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch)) {
      LocalReplacementModel cell = s.cell();
      OutputTarget target = argmaxTarget(cell);
      double none = FeatureAblation.targetWithZeroed(s.model(), s.weights(), cell, target, List.of(), s.manager());
      double original = target.value(cell.lastLogits());
      // The replaced forward against the original one. Measured at 1 and 2 libtorch threads: max |difference|
      // 5.2e-5, smallest margin 130x.
      double bound = replacedForwardBound(s, cell.lastLogits());
      assertThat(none).isCloseTo(original, Offset.offset(bound));
      NodeId last = cell.featureNode(cell.featureCount() - 1);
      NodeId first = cell.featureNode(0);
      double one = FeatureAblation.targetWithZeroed(s.model(), s.weights(), cell, target, List.of(last), s.manager());
      assertThat(one).isNotCloseTo(original, Offset.offset(1e-6));
      // zeroing = multiplying the live activations by a 0/1 mask in the transcoders' place, written out here
      double two = FeatureAblation.targetWithZeroed(s.model(), s.weights(), cell, target, List.of(first, last),
          s.manager());
      ForwardOptions o = ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST);
      for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
        float[] keep = new float[T * TinyCircuitModels.FEATURES];
        java.util.Arrays.fill(keep, 1f);
        for (NodeId f : List.of(first, last)) {
          if (f.layer() == l) {
            keep[f.pos() * TinyCircuitModels.FEATURES + f.feature()] = 0f;
          }
        }
        NDArray mask = s.manager().create(keep, new ai.djl.ndarray.types.Shape(1, T, TinyCircuitModels.FEATURES));
        Transcoder tc = s.tcs().get(l);
        NDArray err = cell.errorVectors(l);
        o = o.replacingMlp(l, x -> tc.decode(tc.encode(x).mul(mask), x).add(err));
      }
      try (ActivationCache c = s.model().run(s.manager(), TokenBatch.rightPadded(List.of(cell.ids()), 0), o)) {
        double expected = target.value(c.logits().toFloatArray());
        // exact: both run the same forward (no hooks kept) with the same kernels on the same shapes, and the folded
        // replacement weights are the transcoder's own times its scale factors 2 and 0.5, powers of two, so
        // encode/decode here round exactly as the folded products do (measured 0 at 1 and 2 libtorch threads).
        assertThat(two).isEqualTo(expected);
      }
    }
  }

  /**
   * Every edge of the full graph, checked by intervention: scaling one source node by (1 + 1) in the frozen model
   * moves each target's pre-activation (or the logit) by exactly that edge.
   */
  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void everyEdgeEqualsTheEffectOfAnInterventionInTheFrozenModel(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch); NDManager m = NDManager.newBaseManager(Device.cpu())) {
      OutputTarget target = argmaxTarget(s.cell());
      AttributionGraph g = fullGraph(s.cell(), target);
      FrozenForward frozen = new FrozenForward(s.model(), s.tcs(), s.cell().ids(), m, true);
      double[] base = frozen.readouts(null, target);
      int checked = 0;
      for (int src = 0; src < g.targetIndex(); src++) {
        double[] moved = frozen.readouts(g.node(src), target);
        for (int row = 0; row < g.size(); row++) {
          if (!g.hasRow(row)) {
            continue;
          }
          int readout = frozen.readoutIndex(g.node(row));
          double effect = moved[readout] - base[readout];
          double edge = g.edge(row, src);
          // Each readout is a forward of the frozen model and the edge a backward through it: Fp32Bounds.deep over
          // one row's chain at both readouts' sizes plus the row's sum of |terms|. Measured at 1 and 2 libtorch
          // threads: max |difference| 2.0e-5, smallest margin 81x.
          double bound = Fp32Bounds.deep(TinyCircuitModels.rowChain(T), Math.abs(base[readout])
              + Math.abs(moved[readout]) + TinyCircuitModels.rowScale(g.row(row), g.constant(row)));
          assertThat(Math.abs(effect - edge)).as("edge %s -> %s: %s by intervention, %s in the graph", g.node(src),
              g.node(row), effect, edge).isLessThanOrEqualTo(bound);
          checked++;
        }
      }
      assertThat(checked).isEqualTo(g.targetIndex() * (g.featureCount() + 1));
    }
  }

  static Stream<Arguments> skipCases() {
    return cases().filter(a -> ((Arch) a.get()[1]).skip());
  }

  /**
   * The intervention test above has teeth for skip paths: with each skip path held at its value on the cell instead
   * of following its input, the interventions disagree with some of the graph's edges, which the live skip paths
   * account for (so a backward that left them out would fail it).
   */
  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("skipCases")
  void edgesIncludeThePathsThroughSkipConnections(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch); NDManager m = NDManager.newBaseManager(Device.cpu())) {
      OutputTarget target = argmaxTarget(s.cell());
      AttributionGraph g = fullGraph(s.cell(), target);
      FrozenForward held = new FrozenForward(s.model(), s.tcs(), s.cell().ids(), m, false);
      double[] base = held.readouts(null, target);
      int throughSkip = 0;
      for (int src = 0; src < g.targetIndex(); src++) {
        double[] moved = held.readouts(g.node(src), target);
        for (int row = 0; row < g.size(); row++) {
          if (!g.hasRow(row)) {
            continue;
          }
          int readout = held.readoutIndex(g.node(row));
          if (Math.abs(moved[readout] - base[readout] - g.edge(row, src)) > 1e-2 * Math.max(1,
              Math.abs(base[readout]))) {
            throughSkip++;
          }
        }
      }
      assertThat(throughSkip).as("edges that differ by more than 1e-2 with the skip paths held").isGreaterThan(10);
    }
  }

  /**
   * The nodes are the features the transcoder's own activation leaves non-zero, recomputed here from the cell's MLP
   * inputs and the folded weights in double precision: a JumpReLU feature between 0 and its threshold is no node, one
   * above a negative threshold is (with its negative activation), and a TopK feature with a positive pre-activation
   * outside its token's k largest is no node. Each node's activation is its pre-activation.
   */
  @ParameterizedTest(name = "{1}, parallel residual = {0}")
  @MethodSource("cases")
  void theNodesAreTheFeaturesTheTranscodersActivationLeavesNonZero(boolean parallel, Arch arch) {
    try (Setup s = setup(parallel, arch); NDManager m = NDManager.newBaseManager(Device.cpu())) {
      LocalReplacementModel cell = s.cell();
      int nF = TinyCircuitModels.FEATURES;
      int c = TinyCircuitModels.WIDTH;
      // the hooks LocalReplacementModel.of keeps (LayerNorm scales, patterns, MLP outputs), so the same kernels run
      // (a fused LayerNorm or attention rounds otherwise) and x is the cell's MLP input bit for bit
      ActivationCache original = s.model().run(m, TokenBatch.rightPadded(List.of(cell.ids()), 0),
          ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST).keeping(n -> n.endsWith("ln2.hook_normalized")
              || n.endsWith("hook_pattern") || n.endsWith("hook_scale") || n.endsWith("hook_mlp_out")));
      List<NodeId> expected = new ArrayList<>();
      List<Double> expectedPre = new ArrayList<>();
      List<Double> expectedSumAbs = new ArrayList<>();
      int belowThreshold = 0;
      int negative = 0;
      int outsideTopK = 0;
      for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
        Transcoder tc = s.tcs().get(l);
        float[] we;
        float[] be;
        float[] threshold = null;
        try (Transcoder f = tc.folded()) {
          we = f.weight("W_enc").toFloatArray();
          be = f.weight("b_enc").toFloatArray();
          if (f.activation().hasThreshold()) {
            threshold = f.weight(Transcoder.THRESHOLD).toFloatArray();
          }
        }
        float[] x = original.get(HookNames.ln2Normalized(l)).toFloatArray();
        for (int p = 0; p < T; p++) {
          double[] pre = new double[nF];
          double[] sumAbs = new double[nF];
          for (int f = 0; f < nF; f++) {
            pre[f] = be[f];
            sumAbs[f] = Math.abs(be[f]);
            for (int k = 0; k < c; k++) {
              pre[f] += (double) x[p * c + k] * we[k * nF + f];
              sumAbs[f] += Math.abs((double) x[p * c + k] * we[k * nF + f]);
            }
          }
          boolean[] on = new boolean[nF];
          switch (tc.activation()) {
            case RELU -> {
              for (int f = 0; f < nF; f++) {
                on[f] = pre[f] > 0;
              }
            }
            case TOPK -> {
              double[] p0 = pre;
              int[] byPre = IntStream.range(0, nF).filter(f -> p0[f] > 0).boxed()
                  .sorted((a, b) -> Double.compare(p0[b], p0[a])).mapToInt(Integer::intValue).toArray();
              for (int i = 0; i < byPre.length; i++) {
                on[byPre[i]] = i < TinyCircuitModels.K;
              }
              outsideTopK += Math.max(0, byPre.length - TinyCircuitModels.K);
            }
            case JUMPRELU -> {
              for (int f = 0; f < nF; f++) {
                on[f] = pre[f] > threshold[f] && pre[f] != 0;
                belowThreshold += pre[f] > 0 && !on[f] ? 1 : 0;
                negative += on[f] && pre[f] < 0 ? 1 : 0;
              }
            }
            default -> throw new AssertionError("a loaded transcoder applies " + tc.activation());
          }
          for (int f = 0; f < nF; f++) {
            if (on[f]) {
              expected.add(NodeId.feature(l, p, f));
              expectedPre.add(pre[f]);
              expectedSumAbs.add(sumAbs[f]);
            }
          }
        }
      }
      original.close();
      List<NodeId> nodes = new ArrayList<>();
      for (int col = 0; col < cell.featureCount(); col++) {
        nodes.add(cell.featureNode(col));
      }
      assertThat(nodes).as("the cell's feature nodes").containsExactlyElementsOf(expected);
      for (int col = 0; col < cell.featureCount(); col++) {
        double pre = expectedPre.get(col);
        // one fp32 reduction (x . W_enc + b_enc, C + 1 terms, the cell's own x and folded weights bit for bit)
        // against the same sum in doubles: Fp32Bounds.oneOrder(C + 1, sum of |terms|). Measured at
        // most 8.5e-7 (1 libtorch thread), 1.6e-6 (2), bounds 4.2e-6 .. 1.4e-5 (the old 1e-4 came from one run).
        double bound = Fp32Bounds.oneOrder(c + 1, expectedSumAbs.get(col));
        assertThat((double) cell.featureActivation(col)).as("activation of %s (bound %.2e)", nodes.get(col), bound)
            .isCloseTo(pre, Offset.offset(bound));
      }
      switch (s.tcs().get(0).activation()) {
        case TOPK -> assertThat(outsideTopK).as("positive features outside the top k").isGreaterThan(0);
        case JUMPRELU -> {
          assertThat(belowThreshold).as("features between 0 and their threshold").isGreaterThan(0);
          assertThat(negative).as("features active above a negative threshold").isGreaterThan(0);
        }
        default -> { }
      }
    }
  }

  /**
   * The frozen local replacement model run through GptNeoX's own forward: attention patterns and LayerNorm scales
   * replaced by their values on the cell (hook edits), each MLP replaced by its original output, optionally with one
   * node doubled. A transcoder's skip path {@code tc.decode(0, x) - tc.decode(0)} follows the MLP's input (the rest of
   * the output is held) when {@code liveSkip}, as in the local replacement model; else it is held too. Readouts: every
   * active feature's pre-activation (in the order of the features' NodeIds) and the target.
   */
  private static final class FrozenForward {
    private final GptNeoX model;
    private final Map<Integer, Transcoder> tcs;
    private final TokenBatch batch;
    private final NDManager m;
    private final ActivationCache original;
    private final List<NodeId> features = new ArrayList<>();
    private final float[][] encoder = new float[TinyCircuitModels.LAYERS][];
    private final float[][] encoderBias = new float[TinyCircuitModels.LAYERS][];
    private final boolean liveSkip;

    FrozenForward(GptNeoX model, Map<Integer, Transcoder> tcs, long[] ids, NDManager m, boolean liveSkip) {
      this.liveSkip = liveSkip;
      this.model = model;
      this.tcs = tcs;
      this.m = m;
      this.batch = TokenBatch.rightPadded(List.of(ids), 0);
      this.original = model.run(m, batch, ForwardOptions.logitsOnly().keeping(n -> true));
      for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
        try (Transcoder f = tcs.get(l).folded()) {
          encoder[l] = f.weight("W_enc").toFloatArray();
          encoderBias[l] = f.weight("b_enc").toFloatArray();
        }
        float[] z = tcs.get(l).encode(original.get(HookNames.ln2Normalized(l))).toFloatArray();
        for (int p = 0; p < T; p++) {
          for (int f = 0; f < TinyCircuitModels.FEATURES; f++) {
            if (z[p * TinyCircuitModels.FEATURES + f] != 0) {
              features.add(NodeId.feature(l, p, f));
            }
          }
        }
      }
    }

    int readoutIndex(NodeId node) {
      return node.kind() == NodeKind.TARGET ? features.size() : features.indexOf(node);
    }

    double[] readouts(NodeId doubled, OutputTarget target) {
      ForwardOptions o = ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST)
          .keeping(n -> n.endsWith("ln2.hook_normalized"));
      for (String name : HookNames.all(TinyCircuitModels.LAYERS)) {
        if (name.endsWith("hook_scale") || name.endsWith("hook_pattern")) {
          NDArray frozen = original.get(name);
          o = o.editing(name, x -> frozen);
        }
      }
      for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
        NDArray out = original.get(HookNames.mlpOut(l));
        NDArray extra = null;
        if (doubled != null && doubled.layer() == l) {
          extra = nodeContribution(doubled, l);
        }
        NDArray total = extra == null ? out : out.add(extra);
        Transcoder tc = tcs.get(l);
        if (liveSkip && tc.hasSkip()) {
          NDArray held = total.sub(skipPath(tc, original.get(HookNames.ln2Normalized(l))));
          o = o.replacingMlp(l, x -> held.add(skipPath(tc, x)));
        } else {
          o = o.replacingMlp(l, x -> total);
        }
      }
      if (doubled != null && doubled.kind() == NodeKind.TOKEN) {
        NDArray embed = original.get(HookNames.embed());
        NDArray mask = positionMask(doubled.pos());
        UnaryOperator<NDArray> edit = x -> x.add(embed.mul(mask));
        o = o.editing(HookNames.embed(), edit);
      }
      try (ActivationCache c = model.run(m, batch, o)) {
        double[] out = new double[features.size() + 1];
        for (int i = 0; i < features.size(); i++) {
          NodeId f = features.get(i);
          float[] x = c.get(HookNames.ln2Normalized(f.layer())).toFloatArray();
          double pre = encoderBias[f.layer()][f.feature()];
          for (int k = 0; k < TinyCircuitModels.WIDTH; k++) {
            pre += (double) x[f.pos() * TinyCircuitModels.WIDTH + k]
                * encoder[f.layer()][k * TinyCircuitModels.FEATURES + f.feature()];
          }
          out[i] = pre;
        }
        out[features.size()] = target.value(c.logits().toFloatArray());
        return out;
      }
    }

    /** What the node adds to its layer's MLP output (one more copy of itself): (1, T, C). */
    private NDArray nodeContribution(NodeId node, int l) {
      Transcoder tc = tcs.get(l);
      NDArray mask = positionMask(node.pos());
      if (node.kind() == NodeKind.ERROR) {
        NDArray mlpIn = original.get(HookNames.ln2Normalized(l));
        NDArray err = original.get(HookNames.mlpOut(l)).sub(tc.forward(mlpIn));
        return err.mul(mask);
      }
      // a feature: decode(a e_f) - decode(0), through the transcoder's own decoder
      NDArray z = tc.encode(original.get(HookNames.ln2Normalized(l))); // (1, T, S)
      float[] only = new float[T * TinyCircuitModels.FEATURES];
      only[node.pos() * TinyCircuitModels.FEATURES + node.feature()] =
          z.toFloatArray()[node.pos() * TinyCircuitModels.FEATURES + node.feature()];
      NDArray one = m.create(only, z.getShape());
      return tc.decode(one).sub(tc.decode(m.zeros(z.getShape())));
    }

    /** The skip path's output for MLP inputs x (1, T, C), through the transcoder's own decode. */
    private NDArray skipPath(Transcoder tc, NDArray x) {
      NDArray zero = m.zeros(new ai.djl.ndarray.types.Shape(1, T, TinyCircuitModels.FEATURES));
      return tc.decode(zero, x).sub(tc.decode(zero));
    }

    private NDArray positionMask(int pos) {
      float[] v = new float[T];
      v[pos] = 1;
      return m.create(v, new ai.djl.ndarray.types.Shape(1, T, 1));
    }
  }

  /**
   * Two forwards of the tiny model to its logits, one with each MLP replaced by its transcoder plus the error vector
   * (mlp - transcoder, from the cell's own forward): the same value in other roundings. Fp32Bounds.deep over the
   * forward's chain with the transcoders' reductions added, scaled by the largest |logit| plus, per layer, the largest
   * |transcoder output| and |error vector|, since their sum is rounded where the original had the MLP's output alone.
   */
  private static double replacedForwardBound(Setup s, float[] logits) {
    double magnitude = Fp32Bounds.maxAbs(logits);
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        ActivationCache c = s.model().run(m, TokenBatch.rightPadded(List.of(s.cell().ids()), 0),
            ForwardOptions.logitsOnly().keeping(n -> true))) {
      for (int l = 0; l < TinyCircuitModels.LAYERS; l++) {
        magnitude += Fp32Bounds.maxAbs(s.tcs().get(l).forward(c.get(HookNames.ln2Normalized(l))).toFloatArray())
            + Fp32Bounds.maxAbs(s.cell().errorVectors(l).toFloatArray());
      }
    }
    long chain = Fp32Bounds.forwardChain(s.model().config(), T)
        + (long) TinyCircuitModels.LAYERS * (TinyCircuitModels.WIDTH + TinyCircuitModels.FEATURES);
    return Fp32Bounds.deep(chain, magnitude);
  }
}
