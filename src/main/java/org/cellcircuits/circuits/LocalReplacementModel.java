package org.cellcircuits.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import java.util.ArrayList;
import java.util.List;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.TokenBatch;

/**
 * One cell's local replacement model: the model with every MLP replaced by its transcoder plus an error node per
 * (layer, pos) holding {@code MLP(x) - transcoder(x)}, and every attention pattern and LayerNorm scale
 * ({@code *.hook_scale}) frozen at its value on this cell. Its forward is exactly the original model's on this cell,
 * and it is linear from the node activations (features, error vectors, token embeddings) to every feature's
 * pre-activation and to the target.
 *
 * <p>{@link #rows} computes the incoming edges of a batch of nodes with one backward pass through the frozen
 * attention-only model (a vector-Jacobian product: no path goes through an MLP, since the paths through a transcoder
 * go through its feature nodes), so the cost of a row is one backward, whatever the number of active features.
 *
 * <p>Where each MLP reads: with a parallel residual (Pythia) block L's MLP reads {@code ln2(resid_pre_L)}, so it never
 * sees block L's own attention; a sequential block reads {@code ln2(resid_pre_L + attn_out_L)}. Both write into
 * {@code resid_post_L}. Columns of a row: all active features in (layer, pos, feature) order, then the error nodes
 * layer-major, then the tokens ({@link #columns()}).
 */
public final class LocalReplacementModel implements AutoCloseable {
  /** Floats per gather chunk in {@link #rows}: bounds the transient memory of a batch to ~32 MB. */
  private static final long GATHER_FLOATS = 8L << 20;

  private final ReplacementWeights w;
  private final NDManager manager;
  private final int layers;
  private final int positions;
  private final int width;
  private final int heads;
  private final boolean parallel;
  private final long[] ids;
  private final NDArray embedRows; // (T, C)
  private final NDArray[] patternT; // (1, H, T, T): key x query
  private final NDArray[] ln1Scale; // (T, 1)
  private final NDArray[] ln2Scale; // (T, 1)
  private final NDArray lnFinalScale; // (T, 1)
  private final NDArray[] errors; // (T, C)
  private final NDArray[] attnConstant; // (T, C)
  private final ActiveFeatures[] active;
  private final int[] featureOffset;
  private final int featureCount;
  private final float[] lastLogits;
  private final double[] errorNorms;
  private final double[] tokenNorms;
  private CircuitProfile profile; // null unless a benchmark asks where the time goes

  /**
   * One layer's active features, in (pos, feature) order, and the same laid out by position for the edge products:
   * slot j of position p is the j-th active feature at p; positions with fewer features are padded with feature 0 at
   * activation 0, so padding adds nothing.
   */
  static final class ActiveFeatures {
    final int[] pos;
    final int[] feature;
    final float[] activation;
    final int[] firstAt; // (T + 1): features of position p are [firstAt[p], firstAt[p + 1])
    final int slots; // most active features at one position
    final NDArray slotFeatures; // (T, slots) int64
    final NDArray slotActivations; // (T, slots, 1)

    ActiveFeatures(int[] pos, int[] feature, float[] activation, int[] firstAt, int slots, NDArray slotFeatures,
        NDArray slotActivations) {
      this.pos = pos;
      this.feature = feature;
      this.activation = activation;
      this.firstAt = firstAt;
      this.slots = slots;
      this.slotFeatures = slotFeatures;
      this.slotActivations = slotActivations;
    }

    int size() {
      return pos.length;
    }
  }

  private LocalReplacementModel(ReplacementWeights w, NDManager manager, long[] ids, NDArray embedRows,
      NDArray[] patternT, NDArray[] ln1Scale, NDArray[] ln2Scale, NDArray lnFinalScale, NDArray[] errors,
      NDArray[] attnConstant, ActiveFeatures[] active, float[] lastLogits) {
    this.w = w;
    this.manager = manager;
    this.layers = w.config.numLayers();
    this.positions = ids.length;
    this.width = w.config.hiddenSize();
    this.heads = w.config.numHeads();
    this.parallel = w.config.parallelResidual();
    this.ids = ids.clone();
    this.embedRows = embedRows;
    this.patternT = patternT;
    this.ln1Scale = ln1Scale;
    this.ln2Scale = ln2Scale;
    this.lnFinalScale = lnFinalScale;
    this.errors = errors;
    this.attnConstant = attnConstant;
    this.active = active;
    this.lastLogits = lastLogits;
    featureOffset = new int[layers + 1];
    for (int l = 0; l < layers; l++) {
      featureOffset[l + 1] = featureOffset[l] + active[l].size();
    }
    featureCount = featureOffset[layers];
    errorNorms = new double[layers * positions];
    for (int l = 0; l < layers; l++) {
      float[] n = errors[l].norm(new int[] {-1}).toFloatArray();
      for (int t = 0; t < positions; t++) {
        errorNorms[l * positions + t] = n[t];
      }
    }
    float[] en = embedRows.norm(new int[] {-1}).toFloatArray();
    tokenNorms = new double[positions];
    for (int t = 0; t < positions; t++) {
      tokenNorms[t] = en[t];
    }
  }

  /**
   * Runs the model once on a prompt and freezes it there. The arrays live in a sub-manager of {@code parent}; close
   * the returned model to free them.
   *
   * @param ids the prompt's token ids (one cell, no padding)
   */
  public static LocalReplacementModel of(GptNeoX model, ReplacementWeights w, long[] ids, NDManager parent) {
    if (model.config() != w.config && !model.config().equals(w.config)) {
      throw new IllegalArgumentException("replacement weights were cut from another model shape");
    }
    if (ids.length == 0) {
      throw new IllegalArgumentException("an empty prompt has no circuit");
    }
    int layers = w.config.numLayers();
    int t = ids.length;
    int c = w.config.hiddenSize();
    List<String> keep = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      keep.add(HookNames.attnPattern(l));
      keep.add(HookNames.ln1Scale(l));
      keep.add(HookNames.ln2Scale(l));
      keep.add(HookNames.ln2Normalized(l));
      keep.add(HookNames.mlpOut(l));
    }
    keep.add(HookNames.lnFinalScale());
    NDManager m = parent.newSubManager();
    try {
      ForwardOptions options = ForwardOptions.logitsOnly().keeping(keep).withLogits(LogitsMode.LAST);
      try (ActivationCache cache = model.run(m, TokenBatch.rightPadded(List.of(ids), 0), options)) {
        float[] lastLogits = cache.logits().toFloatArray();
        NDArray idArray = m.create(ids);
        NDArray embedRows = idArray.getNDArrayInternal().embedding(idArray, w.embed, SparseFormat.DENSE)
            .singletonOrThrow(); // (T, C)
        NDArray[] patternT = new NDArray[layers];
        NDArray[] s1 = new NDArray[layers];
        NDArray[] s2 = new NDArray[layers];
        NDArray[] errors = new NDArray[layers];
        NDArray[] attnConstant = new NDArray[layers];
        ActiveFeatures[] active = new ActiveFeatures[layers];
        for (int l = 0; l < layers; l++) {
          NDArray pattern = keepFp32(cache.get(HookNames.attnPattern(l)), m); // (1, H, T, T)
          patternT[l] = pattern.transpose(0, 1, 3, 2).duplicate(); // (1, H, T, T): key x query
          s1[l] = keepFp32(cache.get(HookNames.ln1Scale(l)), m).reshape(t, 1);
          s2[l] = keepFp32(cache.get(HookNames.ln2Scale(l)), m).reshape(t, 1);
          NDArray mlpIn = keepFp32(cache.get(HookNames.ln2Normalized(l)), m).reshape(t, c);
          NDArray mlpOut = keepFp32(cache.get(HookNames.mlpOut(l)), m).reshape(t, c);
          // Each query's attention rows sum to 1 up to rounding; use the actual sums so the constant is exact.
          NDArray rowMass = pattern.sum(new int[] {3}).reshape(w.config.numHeads(), t).transpose(); // (T, H)
          attnConstant[l] = rowMass.matMul(w.headConstant[l]).add(w.denseBias[l]); // (T, C)
          if (w.hasTranscoder(l)) {
            NDArray z = mlpIn.matMul(in(m, w.encoderT[l].transpose())).add(w.encoderBias[l]).maximum(0f); // (T, S)
            NDArray recon = z.matMul(w.decoder[l]).add(w.decoderBias[l]); // (T, C)
            errors[l] = mlpOut.sub(recon);
            active[l] = activeFeatures(z.toFloatArray(), t, w.features(l), m);
          } else {
            errors[l] = mlpOut;
            active[l] = activeFeatures(new float[0], t, 0, m);
          }
        }
        NDArray sf = keepFp32(cache.get(HookNames.lnFinalScale()), m).reshape(t, 1);
        return new LocalReplacementModel(w, m, ids, embedRows, patternT, s1, s2, sf, errors, attnConstant, active,
            lastLogits);
      }
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  private static NDArray keepFp32(NDArray a, NDManager m) {
    NDArray out = a.toType(DataType.FLOAT32, true);
    out.attach(m);
    return out;
  }

  private static ActiveFeatures activeFeatures(float[] z, int t, int s, NDManager m) {
    int n = 0;
    int[] firstAt = new int[t + 1];
    int slots = 0;
    for (int p = 0; p < t; p++) {
      firstAt[p] = n;
      for (int f = 0; f < s; f++) {
        if (z[p * s + f] > 0) {
          n++;
        }
      }
      slots = Math.max(slots, n - firstAt[p]);
    }
    firstAt[t] = n;
    int[] pos = new int[n];
    int[] feature = new int[n];
    float[] act = new float[n];
    long[] slotFeature = new long[t * slots];
    float[] slotAct = new float[t * slots];
    int k = 0;
    for (int p = 0; p < t; p++) {
      int j = 0;
      for (int f = 0; f < s; f++) {
        float v = z[p * s + f];
        if (v > 0) {
          pos[k] = p;
          feature[k] = f;
          act[k] = v;
          slotFeature[p * slots + j] = f;
          slotAct[p * slots + j] = v;
          k++;
          j++;
        }
      }
    }
    if (n == 0) {
      return new ActiveFeatures(pos, feature, act, firstAt, 0, null, null);
    }
    return new ActiveFeatures(pos, feature, act, firstAt, slots, m.create(slotFeature, new Shape(t, slots)),
        m.create(slotAct, new Shape(t, slots, 1)));
  }

  public int layers() {
    return layers;
  }

  public int positions() {
    return positions;
  }

  public long[] ids() {
    return ids.clone();
  }

  /** Active features over all layers. */
  public int featureCount() {
    return featureCount;
  }

  /** Columns of a row: active features, then layers x positions error nodes, then positions tokens. */
  public int columns() {
    return featureCount + layers * positions + positions;
  }

  /** Column of the i-th active feature of {@code layer}. */
  public int featureColumn(int layer, int i) {
    return featureOffset[layer] + i;
  }

  public int errorColumn(int layer, int pos) {
    return featureCount + layer * positions + pos;
  }

  public int tokenColumn(int pos) {
    return featureCount + layers * positions + pos;
  }

  /** The feature node of a feature column. */
  public NodeId featureNode(int column) {
    int l = layerOfColumn(column);
    int i = column - featureOffset[l];
    return NodeId.feature(l, active[l].pos[i], active[l].feature[i]);
  }

  /** The activation of a feature column. */
  public float featureActivation(int column) {
    int l = layerOfColumn(column);
    return active[l].activation[column - featureOffset[l]];
  }

  /** The row target of a feature column. */
  public RowTarget featureTarget(int column) {
    NodeId id = featureNode(column);
    return RowTarget.feature(id.layer(), id.pos(), id.feature());
  }

  private int layerOfColumn(int column) {
    if (column < 0 || column >= featureCount) {
      throw new IndexOutOfBoundsException("feature column " + column + " of " + featureCount);
    }
    int l = 0;
    while (featureOffset[l + 1] <= column) {
      l++;
    }
    return l;
  }

  /** Active features of one layer. */
  public int activeCount(int layer) {
    return active[layer].size();
  }

  public double errorNorm(int layer, int pos) {
    return errorNorms[layer * positions + pos];
  }

  public double tokenNorm(int pos) {
    return tokenNorms[pos];
  }

  /** Times the parts of {@link #rows} into {@code p} (null: not timed). */
  void profile(CircuitProfile p) {
    profile = p;
  }

  /** Block {@code layer}'s error vectors {@code MLP(x) - transcoder(x)} (T, C), owned by this model. */
  NDArray errorVectors(int layer) {
    return errors[layer];
  }

  /** The original model's logits at the last position (the frozen model reproduces them exactly). */
  public float[] lastLogits() {
    return lastLogits.clone();
  }

  /**
   * The incoming edges of a batch of nodes.
   *
   * @param targets features active on this cell, or the output (then {@code output} says which)
   * @param output the output target (needed when a target is the output; may be null otherwise)
   * @return per target, its edges over {@link #columns()} and the bias terms that reach it
   */
  public Rows rows(List<RowTarget> targets, OutputTarget output) {
    int b = targets.size();
    if (b == 0) {
      return new Rows(new float[0][], new double[0]);
    }
    int c = width;
    // Only positions up to the latest target's matter (attention is causal), and only blocks below the highest
    // target's: rows are computed on that corner, which the caller makes small by batching targets of similar layer
    // and position.
    int t = 0;
    int top = 0;
    for (RowTarget r : targets) {
      t = Math.max(t, r.isOutput() ? positions : r.pos() + 1);
      top = Math.max(top, r.isOutput() ? layers : r.layer());
    }
    CircuitProfile prof = profile;
    long clock = prof == null ? 0 : System.nanoTime();
    double[] constants = new double[b];
    float[][] rows = new float[b][columns()];
    if (prof != null) {
      clock = prof.add(CircuitProfile.Part.COPIES, clock);
      prof.batches++;
      prof.rows += b;
    }
    try (NDManager s = manager.newSubManager()) {
      // seeds per read level: level l = the MLP input of block l, level `layers` = the final residual
      float[][] onehot = new float[layers + 1][];
      float[][] vectors = new float[layers + 1][];
      for (int i = 0; i < b; i++) {
        RowTarget r = targets.get(i);
        NDArray gamma;
        NDArray scale;
        int pos;
        int level;
        NDArray dir;
        if (r.isOutput()) {
          if (output == null) {
            throw new IllegalArgumentException("a row of the output target needs the OutputTarget");
          }
          dir = unembedRow(output.token(), s);
          if (output.minus() >= 0) {
            dir = dir.sub(unembedRow(output.minus(), s));
          }
          constants[i] += dir.dot(w.lnFinalBeta).getFloat();
          gamma = w.lnFinalGamma;
          scale = lnFinalScale;
          pos = positions - 1;
          level = layers;
        } else {
          checkTarget(r);
          dir = in(s, w.encoderT[r.layer()].get(r.feature())); // (C)
          constants[i] += w.encoderBias[r.layer()].getFloat(r.feature()) + dir.dot(w.ln2Beta[r.layer()]).getFloat();
          gamma = w.ln2Gamma[r.layer()];
          scale = ln2Scale[r.layer()];
          pos = r.pos();
          level = r.layer();
        }
        // through the frozen LayerNorm: d/dx of gamma * (x - mean x) * s = s * centre(gamma * dir)
        NDArray g = dir.mul(gamma);
        g = g.sub(g.mean()).mul(scale.getFloat(pos, 0));
        if (onehot[level] == null) {
          onehot[level] = new float[b * t];
          vectors[level] = new float[b * c];
        }
        onehot[level][i * t + pos] = 1f;
        System.arraycopy(g.toFloatArray(), 0, vectors[level], i * c, c);
      }
      NDArray grad = seed(s, onehot[layers], vectors[layers], b, t); // at resid_post of the last block; null = zero
      if (prof != null) {
        clock = prof.add(CircuitProfile.Part.SEEDS, clock);
      }
      for (int l = Math.min(top, layers - 1); l >= 0; l--) {
        // 1. the nodes block l's MLP writes into resid_post_l: its features, its error nodes, its decoder bias
        if (grad != null) {
          writeEdges(l, grad, t, rows, constants, s);
          if (prof != null) {
            clock = System.nanoTime();
          }
        }
        // 2. a sequential block's MLP reads after its own attention: seed before going through it
        if (!parallel) {
          grad = plus(grad, seed(s, onehot[l], vectors[l], b, t));
          if (prof != null) {
            clock = prof.add(CircuitProfile.Part.SEEDS, clock);
          }
        }
        // 3. through the frozen attention of block l (its constant terms: biases and the ln1 beta)
        if (grad != null) {
          addTo(constants, grad.mul(upTo(attnConstant[l], t, s)).sum(new int[] {1, 2}));
          grad = grad.add(attentionBackward(l, grad, t, s));
          if (prof != null) {
            clock = prof.add(CircuitProfile.Part.ATTENTION, clock);
            prof.attentionFlops += 2.0 * b * t * width * (2.0 * width + t);
          }
        }
        // 4. a parallel block's MLP reads resid_pre_l, before its own attention
        if (parallel) {
          grad = plus(grad, seed(s, onehot[l], vectors[l], b, t));
          if (prof != null) {
            clock = prof.add(CircuitProfile.Part.SEEDS, clock);
          }
        }
      }
      float[] tokenEdges = grad.mul(upTo(embedRows, t, s)).sum(new int[] {2}).toFloatArray(); // (B, t)
      if (prof != null) {
        clock = prof.add(CircuitProfile.Part.ERROR_TOKEN, clock);
      }
      for (int i = 0; i < b; i++) {
        System.arraycopy(tokenEdges, i * t, rows[i], tokenColumn(0), t);
      }
    }
    if (prof != null) {
      prof.add(CircuitProfile.Part.COPIES, clock);
    }
    return new Rows(rows, constants);
  }

  private void checkTarget(RowTarget r) {
    if (r.layer() >= layers || r.pos() >= positions) {
      throw new IllegalArgumentException(String.format("row target %s lies outside %d layers x %d positions", r,
          layers, positions));
    }
    if (!w.hasTranscoder(r.layer()) || r.feature() >= w.features(r.layer())) {
      throw new IllegalArgumentException(String.format("row target %s: block %d has %d transcoder features", r,
          r.layer(), w.features(r.layer())));
    }
  }

  private NDArray unembedRow(long token, NDManager s) {
    if (token >= w.config.vocabSize()) {
      throw new IllegalArgumentException(String.format("target token %d is outside the vocabulary of %d", token,
          w.config.vocabSize()));
    }
    return in(s, w.unembed.get(token));
  }

  /** (B, t, C): vector i at (i, its position) for the rows seeded at this level; null when none is. */
  private NDArray seed(NDManager s, float[] onehot, float[] vectors, int b, int t) {
    if (onehot == null) {
      return null;
    }
    NDArray oh = s.create(onehot, new Shape(b, t, 1));
    NDArray v = s.create(vectors, new Shape(b, 1, width));
    return oh.mul(v);
  }

  private static NDArray plus(NDArray a, NDArray b) {
    return a == null ? b : b == null ? a : a.add(b);
  }

  /** The first t positions of a per-position array (dimension 0 for cell arrays), in s; the array itself if all. */
  private NDArray upTo(NDArray x, int t, NDManager s) {
    return t == positions ? x : in(s, x.get("0:" + t));
  }

  private void writeEdges(int l, NDArray grad, int t, float[][] rows, double[] constants, NDManager s) {
    CircuitProfile prof = profile;
    long clock = prof == null ? 0 : System.nanoTime();
    int b = rows.length;
    float[] err = grad.mul(upTo(errors[l], t, s)).sum(new int[] {2}).toFloatArray(); // (B, t)
    if (prof != null) {
      clock = prof.add(CircuitProfile.Part.ERROR_TOKEN, clock);
    }
    for (int i = 0; i < b; i++) {
      System.arraycopy(err, i * t, rows[i], errorColumn(l, 0), t);
    }
    if (prof != null) {
      clock = prof.add(CircuitProfile.Part.COPIES, clock);
    }
    if (!w.hasTranscoder(l)) {
      return;
    }
    addTo(constants, grad.sum(new int[] {1}).matMul(w.decoderBias[l])); // (B)
    if (prof != null) {
      clock = prof.add(CircuitProfile.Part.ERROR_TOKEN, clock);
    }
    ActiveFeatures a = active[l];
    int n = a.size();
    if (n == 0) {
      return;
    }
    // edge = a_s * (W_dec,s . grad[pos_s]): per position, its active features' decoder rows times the batch's
    // gradients there, as one batched product over positions: (P, slots, C) x (P, C, B). Chunked over positions to
    // bound the decoder rows gathered at once.
    NDArray byPos = grad.transpose(1, 2, 0); // (T, C, B)
    int chunk = (int) Math.max(1, Math.min(t, GATHER_FLOATS / ((long) a.slots * Math.max(width, b))));
    for (int p0 = 0; p0 < t; p0 += chunk) {
      int p1 = Math.min(t, p0 + chunk);
      if (a.firstAt[p1] == a.firstAt[p0]) {
        continue;
      }
      try (NDManager cs = s.newSubManager()) {
        NDArray idx = in(cs, a.slotFeatures.get(p0 + ":" + p1)); // (P, slots)
        NDArray dec = idx.getNDArrayInternal().embedding(idx, w.decoder[l], SparseFormat.DENSE).singletonOrThrow();
        NDArray e = dec.matMul(in(cs, byPos.get(p0 + ":" + p1))) // (P, slots, B)
            .mul(in(cs, a.slotActivations.get(p0 + ":" + p1)));
        if (prof != null) {
          clock = prof.add(CircuitProfile.Part.FEATURE_EDGES, clock);
          prof.featureFlops += 2.0 * (p1 - p0) * a.slots * width * b;
          prof.featureFlopsExact += 2.0 * (a.firstAt[p1] - a.firstAt[p0]) * width * b;
        }
        float[] v = e.toFloatArray();
        for (int p = p0; p < p1; p++) {
          int base = (p - p0) * a.slots * b;
          for (int j = 0; j < a.firstAt[p + 1] - a.firstAt[p]; j++) {
            int col = featureColumn(l, a.firstAt[p] + j);
            for (int i = 0; i < b; i++) {
              rows[i][col] = v[base + j * b + i];
            }
          }
        }
        if (prof != null) {
          clock = prof.add(CircuitProfile.Part.COPIES, clock);
        }
      }
    }
  }

  /** The gradient at resid_pre_l of the frozen attention's output, given the gradient at its output (B, T, C). */
  private NDArray attentionBackward(int l, NDArray grad, int t, NDManager s) {
    long b = grad.getShape().get(0);
    int c = width;
    int h = heads;
    int hs = c / h;
    NDArray dz = grad.matMul(w.denseWeight[l]) // attn_out = z W^T + b  ->  dz = g W
        .reshape(b, t, h, hs).transpose(0, 2, 1, 3); // (B, H, T, hs)
    NDArray pattern = t == positions ? patternT[l] : in(s, patternT[l].get(":, :, 0:" + t + ", 0:" + t));
    NDArray dv = in(s, pattern.matMul(dz)); // (B, H, T, hs): z_q = sum_k A[q, k] v_k
    NDArray dxn = dv.transpose(0, 2, 1, 3).reshape(b, t, c).matMul(w.valueWeight[l]); // (B, T, C)
    NDArray g = dxn.mul(w.ln1Gamma[l]);
    return g.sub(g.mean(new int[] {-1}, true)).mul(upTo(ln1Scale[l], t, s)); // frozen ln1: s * centre(gamma * g)
  }

  private static void addTo(double[] acc, NDArray values) {
    float[] v = values.toFloatArray();
    for (int i = 0; i < acc.length; i++) {
      acc[i] += v[i];
    }
  }

  /**
   * Incoming edges of a batch of nodes.
   *
   * @param edges per target, per column of {@link #columns()}
   * @param constants per target, the bias terms that reach it (encoder bias, LayerNorm betas, attention and decoder
   *     biases): edges + constant = the target's pre-activation or value
   */
  public record Rows(float[][] edges, double[] constants) {}

  @Override
  public void close() {
    manager.close();
  }

  /**
   * Moves {@code x} into {@code m}. An operation's result lands in its first operand's manager: results of operations
   * on the cell's or the weights' arrays must be moved to the batch's scratch manager, or they live as long as those.
   */
  private static NDArray in(NDManager m, NDArray x) {
    x.attach(m);
    return x;
  }
}
