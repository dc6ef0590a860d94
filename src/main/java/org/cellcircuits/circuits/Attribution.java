package org.cellcircuits.circuits;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cellcircuits.io.ConfigChecks;

/**
 * Builds one cell's {@link AttributionGraph} under a node budget, as circuit-tracer's {@code attribute} does: the
 * target's row first, then rows for the features of highest influence on the target, chosen again after every few
 * batches from the rows computed so far. The cost follows the budget (one backward pass per batch of rows), never
 * the square of the active features; the memory is (budget + 1) rows of (active features + error nodes + tokens)
 * floats.
 */
public final class Attribution {

  /**
   * @param maxFeatureNodes the node budget: at most this many features get rows and become graph nodes (>= 1)
   * @param batchSize rows per backward pass (>= 1)
   * @param updateInterval batches between two re-rankings of the features by influence (>= 1)
   */
  public record Options(int maxFeatureNodes, int batchSize, int updateInterval) implements java.io.Serializable {
    public Options {
      ConfigChecks.atLeast("cellcircuits.circuits.max-feature-nodes", maxFeatureNodes, 1);
      ConfigChecks.atLeast("cellcircuits.circuits.batch-size", batchSize, 1);
      ConfigChecks.atLeast("cellcircuits.circuits.update-interval", updateInterval, 1);
    }
  }

  private Attribution() {}

  /** What one attribution did, beside the graph. */
  public record Result(AttributionGraph graph, int rowsComputed, int activeFeatures) {}

  /** The graph of {@code target} on the cell. */
  public static Result build(LocalReplacementModel cell, OutputTarget target, Options options) {
    return build(cell, target, options, null);
  }

  /** As {@link #build(LocalReplacementModel, OutputTarget, Options)}, timing its parts into {@code profile}. */
  static Result build(LocalReplacementModel cell, OutputTarget target, Options options, CircuitProfile profile) {
    cell.profile(profile);
    int nF = cell.featureCount();
    int cols = cell.columns();
    List<float[]> rows = new ArrayList<>();
    List<Double> constants = new ArrayList<>();
    List<Integer> rowNode = new ArrayList<>(); // feature column of each row; -1 for the target
    LocalReplacementModel.Rows first = cell.rows(List.of(RowTarget.output()), target);
    rows.add(first.edges()[0]);
    constants.add(first.constants()[0]);
    rowNode.add(-1);

    boolean[] visited = new boolean[nF];
    int budget = Math.min(options.maxFeatureNodes(), nF);
    int done = 0;
    while (done < budget) {
      int[] pending;
      if (budget == nF) {
        pending = new int[nF - done];
        int k = 0;
        for (int f = 0; f < nF; f++) {
          if (!visited[f]) {
            pending[k++] = f;
          }
        }
      } else {
        long clock = System.nanoTime();
        double[] influence = partialInfluence(rows, rowNode, cols);
        int queue = Math.min(options.batchSize() * options.updateInterval(), budget - done);
        pending = topUnvisited(influence, visited, nF, queue);
        // the queue is computed before its rows are used, so its order is free: by (layer, pos) each batch's backward
        // stops at the layer and position of its highest target
        Arrays.sort(pending);
        if (profile != null) {
          profile.add(CircuitProfile.Part.INFLUENCE, clock);
        }
      }
      // The rows of the last queue are never ranked on: only their edges from the graph's own features (those visited
      // so far and this queue's) are ever read, so only those are computed.
      int[] kept = null;
      if (done + pending.length >= budget) {
        kept = new int[done + pending.length];
        int k = 0;
        for (int f = 0; f < nF; f++) {
          if (visited[f]) {
            kept[k++] = f;
          }
        }
        System.arraycopy(pending, 0, kept, k, pending.length);
        Arrays.sort(kept);
      }
      for (int start = 0; start < pending.length; start += options.batchSize()) {
        int end = Math.min(pending.length, start + options.batchSize());
        List<RowTarget> batch = new ArrayList<>();
        for (int i = start; i < end; i++) {
          batch.add(cell.featureTarget(pending[i]));
        }
        LocalReplacementModel.Rows r = cell.rows(batch, target, kept);
        for (int i = start; i < end; i++) {
          rows.add(r.edges()[i - start]);
          constants.add(r.constants()[i - start]);
          rowNode.add(pending[i]);
          visited[pending[i]] = true;
        }
        done += end - start;
      }
    }
    long clock = System.nanoTime();
    AttributionGraph graph = assemble(cell, target, rows, constants, rowNode, visited);
    if (profile != null) {
      profile.add(CircuitProfile.Part.ASSEMBLY, clock);
    }
    return new Result(graph, rows.size(), nF);
  }

  /**
   * Influence on the target of every column, from the rows computed so far (circuit-tracer's
   * {@code compute_partial_influences}): the target's weight pushed back through the row-normalised absolute edges,
   * summed over path lengths. Only nodes with rows pass influence on, so the powers are taken on the small square
   * matrix between row nodes and spread over all columns once at the end.
   */
  static double[] partialInfluence(List<float[]> rows, List<Integer> rowNode, int cols) {
    int r = rows.size();
    double[] inverseSum = new double[r];
    for (int i = 0; i < r; i++) {
      double sum = 0;
      for (float v : rows.get(i)) {
        sum += Math.abs(v);
      }
      inverseSum[i] = 1.0 / Math.max(sum, 1e-8);
    }
    // m[i][j]: normalised weight of row node j in row i
    double[][] m = new double[r][r];
    for (int i = 0; i < r; i++) {
      float[] row = rows.get(i);
      for (int j = 0; j < r; j++) {
        int col = rowNode.get(j);
        m[i][j] = col < 0 ? 0 : Math.abs(row[col]) * inverseSum[i];
      }
    }
    double[] x = new double[r];
    x[0] = 1; // the target's row is row 0
    double[] y = x.clone();
    for (int iter = 0; ; iter++) {
      if (iter > r + 1) {
        throw new IllegalStateException("influence did not converge: the rows computed so far hold a cycle");
      }
      double[] next = new double[r];
      boolean any = false;
      for (int i = 0; i < r; i++) {
        if (x[i] == 0) {
          continue;
        }
        for (int j = 0; j < r; j++) {
          if (m[i][j] != 0) {
            next[j] += x[i] * m[i][j];
            any = true;
          }
        }
      }
      if (!any) {
        break;
      }
      for (int j = 0; j < r; j++) {
        y[j] += next[j];
      }
      x = next;
    }
    double[] influence = new double[cols];
    for (int i = 0; i < r; i++) {
      if (y[i] == 0) {
        continue;
      }
      double f = y[i] * inverseSum[i];
      float[] row = rows.get(i);
      for (int c = 0; c < cols; c++) {
        influence[c] += f * Math.abs(row[c]);
      }
    }
    return influence;
  }

  /** The {@code n} unvisited features of highest influence, highest first (ties: lower column first). */
  static int[] topUnvisited(double[] influence, boolean[] visited, int nF, int n) {
    // a bounded min-heap of the best so far (root = the worst of them), so ~nF log n work and no boxing
    int[] heap = new int[Math.max(0, Math.min(n, nF))];
    int size = 0;
    for (int f = 0; f < nF; f++) {
      if (visited[f]) {
        continue;
      }
      if (size < heap.length) {
        heap[size] = f;
        int i = size++;
        while (i > 0 && worse(influence, heap[i], heap[(i - 1) / 2])) {
          int p = (i - 1) / 2;
          int tmp = heap[i];
          heap[i] = heap[p];
          heap[p] = tmp;
          i = p;
        }
      } else if (size > 0 && worse(influence, heap[0], f)) {
        heap[0] = f;
        siftDown(heap, size, influence);
      }
    }
    // heap-sort the kept ones, best first
    int[] out = new int[size];
    for (int k = size - 1; k >= 0; k--) {
      out[k] = heap[0];
      heap[0] = heap[--size];
      siftDown(heap, size, influence);
    }
    return out;
  }

  /** Restores the min-heap order of {@code heap[0, size)} after its root was replaced. */
  private static void siftDown(int[] heap, int size, double[] influence) {
    int i = 0;
    while (true) {
      int l = 2 * i + 1;
      int r = l + 1;
      int m = i;
      if (l < size && worse(influence, heap[l], heap[m])) {
        m = l;
      }
      if (r < size && worse(influence, heap[r], heap[m])) {
        m = r;
      }
      if (m == i) {
        return;
      }
      int tmp = heap[i];
      heap[i] = heap[m];
      heap[m] = tmp;
      i = m;
    }
  }

  /** Whether feature a ranks below feature b: lower influence, or equal influence and a higher column. */
  private static boolean worse(double[] influence, int a, int b) {
    int c = Double.compare(influence[a], influence[b]);
    return c != 0 ? c < 0 : a > b;
  }

  private static AttributionGraph assemble(LocalReplacementModel cell, OutputTarget target, List<float[]> rows,
      List<Double> constants, List<Integer> rowNode, boolean[] visited) {
    int nF = cell.featureCount();
    int layers = cell.layers();
    int t = cell.positions();
    int[] graphIndexOfFeature = new int[nF];
    Arrays.fill(graphIndexOfFeature, -1);
    List<NodeId> nodes = new ArrayList<>();
    List<Double> acts = new ArrayList<>();
    for (int f = 0; f < nF; f++) {
      if (visited[f]) {
        graphIndexOfFeature[f] = nodes.size();
        nodes.add(cell.featureNode(f));
        acts.add((double) cell.featureActivation(f));
      }
    }
    int sel = nodes.size();
    for (int l = 0; l < layers; l++) {
      for (int p = 0; p < t; p++) {
        nodes.add(NodeId.error(l, p));
        acts.add(cell.errorNorm(l, p));
      }
    }
    for (int p = 0; p < t; p++) {
      nodes.add(NodeId.token(p));
      acts.add(cell.tokenNorm(p));
    }
    nodes.add(NodeId.target());
    double value = target.value(cell.lastLogits());
    acts.add(value);
    int n = nodes.size();
    float[][] graphRows = new float[n][];
    double[] graphConstants = new double[n];
    double[] totals = new double[n];
    Arrays.fill(totals, Double.NaN);
    int cols = cell.columns();
    for (int i = 0; i < rows.size(); i++) {
      float[] src = rows.get(i);
      float[] dst;
      if (src.length == cols) {
        dst = new float[n];
        for (int f = 0; f < nF; f++) {
          int g = graphIndexOfFeature[f];
          if (g >= 0) {
            dst[g] = src[f];
          }
        }
        // error and token columns keep their order: they follow the features in both layouts
        System.arraycopy(src, nF, dst, sel, layers * t + t);
      } else {
        // a row of the last queue: already laid out as the graph's features, error nodes and tokens
        dst = Arrays.copyOf(src, n);
      }
      int node = rowNode.get(i) < 0 ? n - 1 : graphIndexOfFeature[rowNode.get(i)];
      graphRows[node] = dst;
      graphConstants[node] = constants.get(i);
      totals[node] = node == n - 1 ? value : cell.featureActivation(rowNode.get(i));
    }
    double[] activations = acts.stream().mapToDouble(Double::doubleValue).toArray();
    return new AttributionGraph(nodes, activations, graphRows, graphConstants, totals, layers, t, target.label());
  }
}
