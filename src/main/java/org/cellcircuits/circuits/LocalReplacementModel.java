package org.cellcircuits.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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
 * <p>The active features are those the transcoder's own activation function leaves non-zero (ReLU, TopK, JumpReLU;
 * see {@link org.cellcircuits.transcoder.Activation}): each gives 0 or its pre-activation, so with the active set
 * frozen with the cell an active feature passes on its pre-activation, as an active ReLU does. A transcoder's skip
 * path {@code ln2(x) W_skip^T} is linear in the residual stream once ln2's scale is frozen: it is part of the
 * reconstruction the error node is measured against, and a path of the frozen model (like attention's), not a node,
 * so edges include the paths through it.
 *
 * <p>{@link #rows} computes the incoming edges of a batch of nodes with one backward pass through the frozen
 * attention-and-skip model (a vector-Jacobian product: no other path goes through an MLP, since the paths through a
 * transcoder's features go through their nodes), so the cost of a row is one backward, whatever the number of active
 * features. The backward carries each row's gradient as a few (position weights x vector) terms while that is
 * cheaper than the dense (positions x d_model) gradient ({@link Engine}), and computes only the feature edges the
 * caller asks for.
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
  private final NDArray[] patternQK; // (H, T, T): query x key
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
    final int[] slotOf; // per active feature: pos * slots + its slot
    private final int features; // the transcoder's
    private final NDManager manager;
    // made on first use, in the cell's manager: copying Java arrays into native ones is not free (~1 ms per 100k
    // entries), and at the default node budget the slot layout is never used
    private NDArray slotFeatures; // (T, slots) int64
    private NDArray slotActivations; // (T, slots, 1)
    private NDArray flatIndex; // (n) int64: pos * features + feature, picks the active ones out of (T, features)
    private NDArray activations; // (n)

    ActiveFeatures(int[] pos, int[] feature, float[] activation, int[] firstAt, int slots, int features,
        NDManager manager) {
      this.slotOf = new int[pos.length];
      for (int k = 0; k < pos.length; k++) {
        slotOf[k] = pos[k] * slots + (k - firstAt[pos[k]]);
      }
      this.pos = pos;
      this.feature = feature;
      this.activation = activation;
      this.firstAt = firstAt;
      this.slots = slots;
      this.features = features;
      this.manager = manager;
    }

    int size() {
      return pos.length;
    }

    /** Slot j of position p: the j-th active feature there; positions with fewer are padded with feature 0. */
    NDArray slotFeatures() {
      if (slotFeatures == null) {
        int t = firstAt.length - 1;
        long[] ids = new long[t * slots];
        for (int k = 0; k < pos.length; k++) {
          ids[slotOf[k]] = feature[k];
        }
        slotFeatures = manager.create(ids, new Shape(t, slots));
      }
      return slotFeatures;
    }

    /** The activations in the slot layout, padding at activation 0 (so padding adds nothing). */
    NDArray slotActivations() {
      if (slotActivations == null) {
        int t = firstAt.length - 1;
        float[] acts = new float[t * slots];
        for (int k = 0; k < pos.length; k++) {
          acts[slotOf[k]] = activation[k];
        }
        slotActivations = manager.create(acts, new Shape(t, slots, 1));
      }
      return slotActivations;
    }

    NDArray flatIndex() {
      if (flatIndex == null) {
        long[] flat = new long[pos.length];
        for (int k = 0; k < pos.length; k++) {
          flat[k] = (long) pos[k] * features + feature[k];
        }
        flatIndex = manager.create(flat);
      }
      return flatIndex;
    }

    NDArray activations() {
      if (activations == null) {
        activations = manager.create(activation);
      }
      return activations;
    }
  }

  private LocalReplacementModel(ReplacementWeights w, NDManager manager, long[] ids, NDArray embedRows,
      NDArray[] patternT, NDArray[] patternQK, NDArray[] ln1Scale, NDArray[] ln2Scale, NDArray lnFinalScale,
      NDArray[] errors,
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
    this.patternQK = patternQK;
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
        NDArray[] patternQK = new NDArray[layers];
        NDArray[] s1 = new NDArray[layers];
        NDArray[] s2 = new NDArray[layers];
        NDArray[] errors = new NDArray[layers];
        NDArray[] attnConstant = new NDArray[layers];
        ActiveFeatures[] active = new ActiveFeatures[layers];
        for (int l = 0; l < layers; l++) {
          NDArray pattern = keepFp32(cache.get(HookNames.attnPattern(l)), m); // (1, H, T, T)
          patternT[l] = pattern.transpose(0, 1, 3, 2).duplicate(); // (1, H, T, T): key x query
          patternQK[l] = pattern.reshape(w.config.numHeads(), t, t);
          s1[l] = keepFp32(cache.get(HookNames.ln1Scale(l)), m).reshape(t, 1);
          s2[l] = keepFp32(cache.get(HookNames.ln2Scale(l)), m).reshape(t, 1);
          NDArray mlpIn = keepFp32(cache.get(HookNames.ln2Normalized(l)), m).reshape(t, c);
          NDArray mlpOut = keepFp32(cache.get(HookNames.mlpOut(l)), m).reshape(t, c);
          // Each query's attention rows sum to 1 up to rounding; use the actual sums so the constant is exact.
          NDArray rowMass = pattern.sum(new int[] {3}).reshape(w.config.numHeads(), t).transpose(); // (T, H)
          attnConstant[l] = rowMass.matMul(w.headConstant[l]).add(w.denseBias[l]); // (T, C)
          if (w.hasTranscoder(l)) {
            NDArray z = w.activate(l, mlpIn.matMul(w.encoder[l]).add(w.encoderBias[l])); // (T, S)
            // the skip path is part of the reconstruction, so the error node carries only what neither captures
            errors[l] = mlpOut.sub(w.reconstruct(l, z, mlpIn)); // (T, C)
            active[l] = activeFeatures(z.toFloatArray(), t, w.features(l), m);
          } else {
            errors[l] = mlpOut;
            active[l] = activeFeatures(new float[0], t, 0, m);
          }
        }
        NDArray sf = keepFp32(cache.get(HookNames.lnFinalScale()), m).reshape(t, 1);
        return new LocalReplacementModel(w, m, ids, embedRows, patternT, patternQK, s1, s2, sf, errors, attnConstant,
            active, lastLogits);
      }
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /**
   * An fp32 copy of a cached activation owned by {@code m}, which outlives the cache. An fp32 array is cloned: DJL's
   * {@code toType(FLOAT32, true)} of an fp32 array is a new handle on the same memory (see ReplacementWeights.copy).
   */
  private static NDArray keepFp32(NDArray a, NDManager m) {
    NDArray out = a.getDataType() == DataType.FLOAT32 ? a.duplicate() : a.toType(DataType.FLOAT32, true);
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
        if (z[p * s + f] != 0) {
          n++;
        }
      }
      slots = Math.max(slots, n - firstAt[p]);
    }
    firstAt[t] = n;
    int[] pos = new int[n];
    int[] feature = new int[n];
    float[] act = new float[n];
    int k = 0;
    for (int p = 0; p < t; p++) {
      for (int f = 0; f < s; f++) {
        float v = z[p * s + f];
        // every activation gives 0 or the pre-activation, and a loaded JumpReLU threshold may be <= 0: active means
        // non-zero, not positive
        if (v != 0) {
          pos[k] = p;
          feature[k] = f;
          act[k] = v;
          k++;
        }
      }
    }
    return new ActiveFeatures(pos, feature, act, firstAt, slots, s, m);
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
   * How {@link #rows} carries a batch's gradients. A row's gradient starts as one vector at one position (its seed)
   * and, through each frozen attention layer, becomes itself plus one term per head, each term a vector over d_model
   * times a weight per position: after k layers a sum of (1 + heads)^k such terms (a transcoder's skip path adds one
   * more per term: the term through W_skip and the frozen ln2, its weights scaled by ln2's). Carried that way
   * ("factored"), a row costs per term and layer O(d_model^2 + heads x positions^2) instead of the dense gradient's
   * O(positions x d_model x (d_model + positions)), so the first layers below a seed cost a fraction of a dense
   * backward. Both forms are exact; {@link Engine#AUTO} switches each group of rows to the dense form when that is
   * cheaper by operation count. Package-private: tests run each form.
   */
  enum Engine {
    /** Factored while that takes fewer operations than dense, per group of rows and layer; then dense. */
    AUTO,
    /** Factored to the end (full-column feature edges still go through a dense form per layer). */
    FACTORED,
    /** Dense from the seed on: the (rows, positions, d_model) gradient of a plain backward pass. */
    DENSE
  }

  private Engine engine = Engine.AUTO;

  /** Chooses how {@link #rows} carries gradients (tests); {@link Engine#AUTO} unless set. */
  void engine(Engine e) {
    engine = e;
  }

  /**
   * The incoming edges of a batch of nodes.
   *
   * @param targets features active on this cell, or the output (then {@code output} says which)
   * @param output the output target (needed when a target is the output; may be null otherwise)
   * @return per target, its edges over {@link #columns()} and the bias terms that reach it
   */
  public Rows rows(List<RowTarget> targets, OutputTarget output) {
    return rows(targets, output, null);
  }

  /**
   * As {@link #rows(List, OutputTarget)}, with the edges from only some features: those of {@code keptFeatures}
   * (feature columns, ascending), or every one when null. With a list, a row's edges are laid out as the kept
   * features in the list's order, then the error nodes, then the tokens (as {@link #columns()} with only those
   * feature columns); the edges from the other features are not computed, which makes a row's cost nearly
   * independent of the number of active features.
   */
  Rows rows(List<RowTarget> targets, OutputTarget output, int[] keptFeatures) {
    int b = targets.size();
    if (b == 0) {
      return new Rows(new float[0][], new double[0]);
    }
    if (keptFeatures != null) {
      for (int i = 0; i < keptFeatures.length; i++) {
        int k = keptFeatures[i];
        if (k < 0 || k >= featureCount || (i > 0 && k <= keptFeatures[i - 1])) {
          throw new IllegalArgumentException("kept feature columns must be ascending columns of the "
              + featureCount + " features; got " + keptFeatures[i] + " at " + i);
        }
      }
    }
    // Only positions up to the latest target's matter (attention is causal), and only blocks below the highest
    // target's: rows are computed on that corner, which the caller makes small by batching targets of similar layer
    // and position.
    int t = 0;
    int top = 0;
    List<List<Integer>> byLevel = new ArrayList<>();
    for (int l = 0; l <= layers; l++) {
      byLevel.add(new ArrayList<>());
    }
    for (int i = 0; i < b; i++) {
      RowTarget r = targets.get(i);
      if (r.isOutput()) {
        if (output == null) {
          throw new IllegalArgumentException("a row of the output target needs the OutputTarget");
        }
      } else {
        checkTarget(r);
      }
      t = Math.max(t, r.isOutput() ? positions : r.pos() + 1);
      top = Math.max(top, r.isOutput() ? layers : r.layer());
      byLevel.get(r.isOutput() ? layers : r.layer()).add(i);
    }
    int featureWidth = keptFeatures == null ? featureCount : keptFeatures.length;
    CircuitProfile prof = profile;
    long clock = prof == null ? 0 : System.nanoTime();
    float[][] rows = new float[b][featureWidth + layers * positions + positions];
    if (prof != null) {
      prof.add(CircuitProfile.Part.COPIES, clock);
      prof.batches++;
      prof.rows += b;
    }
    try (NDManager s = manager.newSubManager()) {
      Batch batch = new Batch(rows, new double[b], t, keptFeatures, featureWidth, s.newSubManager(), prof);
      batch.seed(targets, output, byLevel.get(layers), layers);
      for (int l = Math.min(top, layers - 1); l >= 0; l--) {
        NDManager next = s.newSubManager();
        batch.choose(l);
        // 1. the nodes block l's MLP writes into resid_post_l: its features, its error nodes, its decoder bias
        batch.edges(l);
        // 2. block l's skip path takes the gradient at resid_post_l to its MLP input, where step 3 or 5 adds it
        batch.skip(l);
        // 3. a sequential block's MLP reads after its own attention: its skip path and seeds join before going
        // through it
        if (!parallel) {
          batch.addSkip();
          batch.seed(targets, output, byLevel.get(l), l);
        }
        // 4. through the frozen attention of block l (its constant terms: biases and the ln1 beta)
        batch.attention(l);
        // 5. a parallel block's MLP reads resid_pre_l, before its own attention, which its skip path bypasses
        if (parallel) {
          batch.addSkip();
          batch.seed(targets, output, byLevel.get(l), l);
        }
        batch.moveTo(next);
      }
      batch.tokens();
      return new Rows(rows, batch.constants);
    }
  }

  /** One batch of rows on its way down the layers: groups of factored rows and one set of dense rows. */
  private final class Batch {
    final float[][] rows;
    final double[] constants;
    final int t;
    final int[] kept;
    final int featureWidth;
    final CircuitProfile prof;
    NDManager cur; // holds the gradients and this layer's temporaries; replaced by moveTo
    final List<Group> groups = new ArrayList<>();
    int[] denseRows = new int[0];
    NDArray dense; // (denseRows, t, C) or null
    // the current layer's skip-path gradients at its MLP input, until addSkip: one group per group, in order
    private final List<Group> skipGroups = new ArrayList<>();
    private NDArray skipDense; // (denseRows, t, C) or null

    Batch(float[][] rows, double[] constants, int t, int[] kept, int featureWidth, NDManager cur,
        CircuitProfile prof) {
      this.rows = rows;
      this.constants = constants;
      this.t = t;
      this.kept = kept;
      this.featureWidth = featureWidth;
      this.cur = cur;
      this.prof = prof;
    }

    /** Rows whose gradient is the sum over r of coef[r, i, :] (positions) x vec[r, i, :] (d_model). */
    private final class Group {
      int[] rows;
      NDArray coef; // (R, n, t)
      NDArray vec; // (R, n, C)
      int terms;
    }

    private long tick(CircuitProfile.Part part, long since) {
      return prof == null ? 0 : prof.add(part, since);
    }

    private long now() {
      return prof == null ? 0 : System.nanoTime();
    }

    /** Seeds the rows read at {@code level} (the MLP input of block level, or the final residual). */
    void seed(List<RowTarget> targets, OutputTarget output, List<Integer> at, int level) {
      int n = at.size();
      if (n == 0) {
        return;
      }
      long clock = now();
      int c = width;
      int[] idx = at.stream().mapToInt(Integer::intValue).toArray();
      int[] pos = new int[n];
      NDArray dirs;
      NDArray gamma;
      NDArray scale;
      if (level == layers) {
        NDArray[] each = new NDArray[n];
        for (int i = 0; i < n; i++) {
          NDArray dir = unembedRow(output.token(), cur);
          if (output.minus() >= 0) {
            dir = dir.sub(unembedRow(output.minus(), cur));
          }
          constants[idx[i]] += dir.dot(w.lnFinalBeta).getFloat();
          each[i] = dir.reshape(1, c);
          pos[i] = positions - 1;
        }
        dirs = n == 1 ? each[0] : NDArrays.concat(new NDList(each), 0);
        gamma = w.lnFinalGamma;
        scale = in(cur, lnFinalScale.get(positions - 1 + ":" + positions)).reshape(1, 1).repeat(0, n);
      } else {
        long[] features = new long[n];
        long[] at64 = new long[n];
        for (int i = 0; i < n; i++) {
          RowTarget r = targets.get(idx[i]);
          features[i] = r.feature();
          pos[i] = r.pos();
          at64[i] = r.pos();
        }
        NDArray f = cur.create(features);
        dirs = in(cur, w.encoder[level].transpose()).get(new NDIndex("{}", f)); // (n, C)
        float[] bias = in(cur, w.encoderBias[level].get(new NDIndex("{}", f))).add(dirs.matMul(w.ln2Beta[level]))
            .toFloatArray();
        for (int i = 0; i < n; i++) {
          constants[idx[i]] += bias[i];
        }
        gamma = w.ln2Gamma[level];
        scale = in(cur, ln2Scale[level].get(new NDIndex("{}", cur.create(at64)))); // (n, 1)
      }
      // through the frozen LayerNorm: d/dx of gamma * (x - mean x) * s = s * centre(gamma * dir)
      NDArray g = dirs.mul(gamma);
      g = g.sub(g.mean(new int[] {-1}, true)).mul(scale);
      float[] onehot = new float[n * t];
      for (int i = 0; i < n; i++) {
        onehot[i * t + pos[i]] = 1f;
      }
      Group group = new Group();
      group.rows = idx;
      group.coef = cur.create(onehot, new Shape(1, n, t));
      group.vec = g.reshape(1, n, c);
      group.terms = 1;
      groups.add(group);
      clock = tick(CircuitProfile.Part.SEEDS, clock);
      if (engine == Engine.DENSE) {
        densify(group);
        tick(CircuitProfile.Part.ATTENTION, clock);
      }
    }

    /** Turns to the dense form each group that is cheaper dense from block {@code l} down ({@link Engine#AUTO}). */
    void choose(int l) {
      if (engine != Engine.AUTO || groups.isEmpty()) {
        return;
      }
      long clock = now();
      int c = width;
      int m = kept == null ? 0 : keptOf(l).count;
      // operations per row and layer: attention, then error / constant / token products, then feature edges, then
      // the skip path
      double skipTerm = w.hasSkip(l) ? 2.0 * c * (c + t) : 0;
      double perTerm = 4.0 * c * c + 2.0 * heads * t * t + 6.0 * t * c + (kept == null ? 2.0 * t * c : 2.0 * m * c)
          + skipTerm;
      double perDenseRow = 2.0 * t * c * (2.0 * c + t) + 6.0 * t * c + (kept == null ? 0 : 2.0 * m * c)
          + (w.hasSkip(l) ? 2.0 * t * c * c : 0);
      for (Group g : new ArrayList<>(groups)) {
        if (g.terms * perTerm > perDenseRow + 2.0 * t * g.terms * c) {
          densify(g);
        }
      }
      tick(CircuitProfile.Part.ATTENTION, clock);
    }

    private void densify(Group g) {
      // (n, t, R) x (n, R, C): each row's sum of position weights times vectors
      NDArray d = g.coef.transpose(1, 2, 0).matMul(g.vec.transpose(1, 0, 2));
      if (dense == null) {
        dense = d;
        denseRows = g.rows;
      } else {
        dense = dense.concat(d, 0);
        int[] all = java.util.Arrays.copyOf(denseRows, denseRows.length + g.rows.length);
        System.arraycopy(g.rows, 0, all, denseRows.length, g.rows.length);
        denseRows = all;
      }
      groups.remove(g);
    }

    /** Edges from the nodes block {@code l}'s MLP writes (features, error nodes) and its decoder bias term. */
    void edges(int l) {
      long clock = now();
      int c = width;
      NDArray err = upTo(errors[l], t, cur); // (t, C)
      NDArray errT = in(cur, err.transpose());
      boolean tc = w.hasTranscoder(l);
      for (Group g : groups) {
        NDArray e = g.vec.matMul(errT).mul(g.coef).sum(new int[] {0}); // (n, t)
        if (tc) {
          NDArray bias = g.coef.sum(new int[] {2}).mul(g.vec.matMul(w.decoderBias[l])).sum(new int[] {0}); // (n)
          addConstants(bias, g.rows);
        }
        clock = tick(CircuitProfile.Part.ERROR_TOKEN, clock);
        put(e, g.rows, featureWidth + l * positions, t);
        clock = tick(CircuitProfile.Part.COPIES, clock);
        if (tc && kept != null) {
          Kept k = keptOf(l);
          if (k.count > 0) {
            NDArray pm = g.vec.matMul(k.decoderT); // (R, n, m)
            NDArray at = g.coef.get(new NDIndex(":, :, {}", k.positions)); // (R, n, m)
            NDArray fe = pm.mul(at).sum(new int[] {0}).mul(k.activations); // (n, m)
            if (prof != null) {
              prof.featureFlops += 2.0 * g.terms * g.rows.length * k.count * (c + 1);
              prof.featureFlopsExact += 2.0 * g.terms * g.rows.length * k.count * (c + 1);
              clock = tick(CircuitProfile.Part.FEATURE_EDGES, clock);
            }
            put(fe, g.rows, k.start, k.count);
            clock = tick(CircuitProfile.Part.COPIES, clock);
          }
        } else if (tc) {
          NDArray d = g.coef.transpose(1, 2, 0).matMul(g.vec.transpose(1, 0, 2)); // (n, t, C)
          clock = denseFeatureEdges(l, d, g.rows, clock);
        }
      }
      if (dense != null) {
        NDArray e = dense.mul(err).sum(new int[] {2}); // (nd, t)
        if (tc) {
          addConstants(dense.sum(new int[] {1}).matMul(w.decoderBias[l]), denseRows);
        }
        clock = tick(CircuitProfile.Part.ERROR_TOKEN, clock);
        put(e, denseRows, featureWidth + l * positions, t);
        clock = tick(CircuitProfile.Part.COPIES, clock);
        if (tc && kept != null) {
          Kept k = keptOf(l);
          if (k.count > 0) {
            // edge = a_s * (W_dec,s . grad[pos_s]) at the kept features' positions only
            NDArray at = dense.get(new NDIndex(":, {}, :", k.positions)); // (nd, m, C)
            NDArray fe = at.mul(k.decoder).sum(new int[] {2}).mul(k.activations); // (nd, m)
            if (prof != null) {
              prof.featureFlops += 2.0 * denseRows.length * k.count * c;
              prof.featureFlopsExact += 2.0 * denseRows.length * k.count * c;
              clock = tick(CircuitProfile.Part.FEATURE_EDGES, clock);
            }
            put(fe, denseRows, k.start, k.count);
            tick(CircuitProfile.Part.COPIES, clock);
          }
        } else if (tc) {
          denseFeatureEdges(l, dense, denseRows, clock);
        }
      }
    }

    /**
     * Edges from every active feature of block {@code l}: per position, its active features' decoder rows times the
     * rows' gradients there, as one batched product over positions, (P, slots, C) x (P, C, rows), chunked over
     * positions to bound the decoder rows gathered at once; the real slots are then picked out in column order.
     */
    private long denseFeatureEdges(int l, NDArray grad, int[] rowIdx, long clock) {
      ActiveFeatures a = active[l];
      if (a.size() == 0 || a.firstAt[t] == 0) {
        return clock;
      }
      int nr = rowIdx.length;
      int features = w.features(l);
      if ((long) nr * (features - a.slots) < 5L * a.slots) {
        // few rows: every feature at every position as one product, (rows x t, C) x (C, features), then the active
        // ones picked out; cheaper than gathering t x slots decoder rows for a handful of rows
        int n = a.firstAt[t];
        NDArray all = grad.reshape((long) nr * t, width).matMul(in(cur, w.decoder[l].transpose()))
            .reshape(nr, (long) t * features); // (rows, t x features)
        NDArray fe = all.get(new NDIndex(":, {}", in(cur, a.flatIndex().get("0:" + n))))
            .mul(in(cur, a.activations().get("0:" + n))); // (rows, n)
        if (prof != null) {
          prof.featureFlops += 2.0 * nr * t * width * features;
          prof.featureFlopsExact += 2.0 * n * width * nr;
          clock = tick(CircuitProfile.Part.FEATURE_EDGES, clock);
        }
        put(fe, rowIdx, featureOffset[l], n);
        return tick(CircuitProfile.Part.COPIES, clock);
      }
      NDArray byPos = grad.transpose(1, 2, 0); // (t, C, rows)
      int chunk = (int) Math.max(1, Math.min(t, GATHER_FLOATS / ((long) a.slots * Math.max(width, nr))));
      for (int p0 = 0; p0 < t; p0 += chunk) {
        int p1 = Math.min(t, p0 + chunk);
        int n0 = a.firstAt[p0];
        int n1 = a.firstAt[p1];
        if (n1 == n0) {
          continue;
        }
        NDArray idx = in(cur, a.slotFeatures().get(p0 + ":" + p1)); // (P, slots)
        NDArray dec = idx.getNDArrayInternal().embedding(idx, w.decoder[l], SparseFormat.DENSE).singletonOrThrow();
        NDArray e = dec.matMul(in(cur, byPos.get(p0 + ":" + p1))) // (P, slots, rows)
            .mul(in(cur, a.slotActivations().get(p0 + ":" + p1)));
        long[] sel = new long[n1 - n0];
        for (int k = n0; k < n1; k++) {
          sel[k - n0] = a.slotOf[k] - (long) p0 * a.slots;
        }
        NDArray real = e.reshape((long) (p1 - p0) * a.slots, nr).get(new NDIndex("{}", cur.create(sel))); // (n, rows)
        NDArray byRow = real.transpose(); // (rows, n)
        if (prof != null) {
          prof.featureFlops += 2.0 * (p1 - p0) * a.slots * width * nr;
          prof.featureFlopsExact += 2.0 * (n1 - n0) * width * nr;
          clock = tick(CircuitProfile.Part.FEATURE_EDGES, clock);
        }
        put(byRow, rowIdx, featureOffset[l] + n0, n1 - n0);
        clock = tick(CircuitProfile.Part.COPIES, clock);
      }
      return clock;
    }

    /**
     * Through block {@code l}'s skip path, from the gradient at its output (resid_post_l) to the residual stream its
     * MLP reads, held for {@link #addSkip}: with ln2's scale frozen, {@code ln2(x) W_skip^T} is linear in x. Its
     * constant, the ln2 bias through W_skip, goes to the rows here.
     */
    void skip(int l) {
      if (!w.hasSkip(l)) {
        return;
      }
      long clock = now();
      int c = width;
      NDArray s2 = in(cur, upTo(ln2Scale[l], t, cur).reshape(t));
      for (Group g : groups) {
        addConstants(g.coef.sum(new int[] {2}).mul(g.vec.matMul(w.skipConstant[l])).sum(new int[] {0}), g.rows);
        // a term coef x vec at the MLP output: vec W_skip at the MLP input, through the frozen ln2:
        // (s2 * coef) x centre(gamma_2 (vec W_skip))
        NDArray v = g.vec.matMul(w.skip[l]).mul(w.ln2Gamma[l]);
        Group k = new Group();
        k.rows = g.rows;
        k.terms = g.terms;
        k.coef = g.coef.mul(s2);
        k.vec = v.sub(v.mean(new int[] {-1}, true));
        skipGroups.add(k);
        if (prof != null) {
          prof.attentionFlops += 2.0 * g.terms * g.rows.length * c * (c + t);
        }
      }
      if (dense != null) {
        addConstants(dense.sum(new int[] {1}).matMul(w.skipConstant[l]), denseRows);
        NDArray d = dense.matMul(w.skip[l]).mul(w.ln2Gamma[l]);
        skipDense = d.sub(d.mean(new int[] {-1}, true)).mul(upTo(ln2Scale[l], t, cur));
        if (prof != null) {
          prof.attentionFlops += 2.0 * denseRows.length * t * c * c;
        }
      }
      tick(CircuitProfile.Part.ATTENTION, clock);
    }

    /** Adds the skip-path terms of {@link #skip} to the gradients, now at the residual stream the MLP reads. */
    void addSkip() {
      for (int i = 0; i < skipGroups.size(); i++) {
        Group k = skipGroups.get(i);
        Group g = groups.get(i);
        if (g.rows != k.rows) {
          throw new IllegalStateException("the groups of rows changed between a skip path's input and output");
        }
        g.coef = g.coef.concat(k.coef, 0);
        g.vec = g.vec.concat(k.vec, 0);
        g.terms += k.terms;
      }
      skipGroups.clear();
      if (skipDense != null) {
        dense = dense.add(skipDense);
        skipDense = null;
      }
    }

    /** Through the frozen attention of block {@code l}, with its constant terms (biases and the ln1 beta). */
    void attention(int l) {
      long clock = now();
      int c = width;
      int hs = c / heads;
      NDArray constant = upTo(attnConstant[l], t, cur); // (t, C)
      NDArray constT = in(cur, constant.transpose());
      NDArray a = t == positions ? patternQK[l] : in(cur, patternQK[l].get(":, 0:" + t + ", 0:" + t)); // (H, t, t)
      NDArray s1 = in(cur, upTo(ln1Scale[l], t, cur).reshape(t));
      List<Group> next = new ArrayList<>();
      for (Group g : groups) {
        int r = g.terms;
        int n = g.rows.length;
        long rn = (long) r * n;
        addConstants(g.vec.matMul(constT).mul(g.coef).sum(new int[] {0, 2}), g.rows);
        // a term coef x vec at the attention's output: dz = coef x (vec W_O); head h moves it to the keys as
        // (coef A_h) x (vec W_O)_h, then through W_V,h and the frozen ln1: (s1 * coef A_h) x centre(gamma (..) W_V,h)
        NDArray u = g.vec.reshape(rn, c).matMul(w.denseWeight[l]); // (rn, C)
        NDArray wv = u.reshape(rn, heads, hs).transpose(1, 0, 2).matMul(w.valueByHead[l]); // (H, rn, C)
        wv = wv.mul(w.ln1Gamma[l]);
        wv = wv.sub(wv.mean(new int[] {-1}, true));
        NDArray ch = g.coef.reshape(rn, t).matMul(a).mul(s1); // (H, rn, t)
        Group h = new Group();
        h.rows = g.rows;
        h.terms = r * (1 + heads);
        h.coef = g.coef.concat(ch.reshape((long) heads * r, n, t), 0);
        h.vec = g.vec.concat(wv.reshape((long) heads * r, n, c), 0);
        next.add(h);
        if (prof != null) {
          prof.attentionFlops += rn * (4.0 * c * c + 2.0 * heads * t * t);
        }
      }
      groups.clear();
      groups.addAll(next);
      if (dense != null) {
        int nd = denseRows.length;
        addConstants(dense.mul(constant).sum(new int[] {1, 2}), denseRows);
        dense = dense.add(attentionBackward(l, dense, t, cur));
        if (prof != null) {
          prof.attentionFlops += 2.0 * nd * t * c * (2.0 * c + t);
        }
      }
      tick(CircuitProfile.Part.ATTENTION, clock);
    }

    /** Edges from the tokens: each row's gradient at the embeddings. */
    void tokens() {
      long clock = now();
      NDArray embed = upTo(embedRows, t, cur); // (t, C)
      NDArray embedT = in(cur, embed.transpose());
      for (Group g : groups) {
        NDArray e = g.vec.matMul(embedT).mul(g.coef).sum(new int[] {0}); // (n, t)
        clock = tick(CircuitProfile.Part.ERROR_TOKEN, clock);
        put(e, g.rows, featureWidth + layers * positions, t);
        clock = tick(CircuitProfile.Part.COPIES, clock);
      }
      if (dense != null) {
        NDArray e = dense.mul(embed).sum(new int[] {2}); // (nd, t)
        clock = tick(CircuitProfile.Part.ERROR_TOKEN, clock);
        put(e, denseRows, featureWidth + layers * positions, t);
        tick(CircuitProfile.Part.COPIES, clock);
      }
      cur.close();
    }

    /** Moves the gradients to {@code next} and frees everything else this layer made. */
    void moveTo(NDManager next) {
      for (Group g : groups) {
        g.coef.attach(next);
        g.vec.attach(next);
      }
      if (dense != null) {
        dense.attach(next);
      }
      cur.close();
      cur = next;
    }

    /** Copies (rows, width) values into the rows at columns [start, start + width). */
    private void put(NDArray values, int[] rowIdx, int start, int widthOut) {
      float[] v = values.toFloatArray();
      for (int i = 0; i < rowIdx.length; i++) {
        System.arraycopy(v, i * widthOut, rows[rowIdx[i]], start, widthOut);
      }
    }

    private void addConstants(NDArray values, int[] rowIdx) {
      float[] v = values.toFloatArray();
      for (int i = 0; i < rowIdx.length; i++) {
        constants[rowIdx[i]] += v[i];
      }
    }

    private final Kept[] keptByLayer = new Kept[layers];

    /** The kept features of block {@code l} before position t: where they go in a row, where they sit. */
    Kept keptOf(int l) {
      if (keptByLayer[l] == null) {
        int from = featureOffset[l];
        int lo = lowerBound(kept, from);
        int hi = lowerBound(kept, featureOffset[l + 1]);
        ActiveFeatures a = active[l];
        int m = 0;
        while (lo + m < hi && a.pos[kept[lo + m] - from] < t) {
          m++; // kept columns are in (pos, feature) order within the layer
        }
        long[] pos = new long[m];
        long[] feature = new long[m];
        float[] act = new float[m];
        for (int i = 0; i < m; i++) {
          int k = kept[lo + i] - from;
          pos[i] = a.pos[k];
          feature[i] = a.feature[k];
          act[i] = a.activation[k];
        }
        Kept k = new Kept();
        k.start = lo;
        k.count = m;
        if (m > 0) {
          // batch-lifetime arrays: made in the batch's manager, not this layer's
          NDManager s = cur.getParentManager();
          k.positions = s.create(pos);
          k.decoder = in(s, w.decoder[l].get(new NDIndex("{}", s.create(feature)))); // (m, C)
          k.decoderT = k.decoder.transpose();
          k.activations = s.create(act);
        }
        keptByLayer[l] = k;
      }
      return keptByLayer[l];
    }
  }

  /** The kept features of one block, for {@link #rows(List, OutputTarget, int[])}. */
  private static final class Kept {
    int start; // their first index in a row
    int count;
    NDArray positions; // (m) int64
    NDArray decoder; // (m, C)
    NDArray decoderT; // (C, m)
    NDArray activations; // (m)
  }

  private static int lowerBound(int[] sorted, int key) {
    int i = java.util.Arrays.binarySearch(sorted, key);
    if (i < 0) {
      return -i - 1;
    }
    while (i > 0 && sorted[i - 1] == key) {
      i--;
    }
    return i;
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

  /** The first t positions of a per-position array (dimension 0 for cell arrays), in s; the array itself if all. */
  private NDArray upTo(NDArray x, int t, NDManager s) {
    return t == positions ? x : in(s, x.get("0:" + t));
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
