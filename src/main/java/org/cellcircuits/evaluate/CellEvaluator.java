package org.cellcircuits.evaluate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.cellcircuits.model.AnnotatedAnswer;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.LengthBatches;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.CellTypePredictor;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.MlpReplacement;
import org.cellcircuits.model.Prediction;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.model.TokenizedPrompt;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderKind;

/**
 * Scores one partition of held-out cells under every {@link Variant} of the model and adds what it measures to an
 * {@link EvaluationSums}. No Spark here: a task calls it, and so do tests.
 *
 * <p>Each cell is read teacher-forced as prompt + annotated answer {@code " {cell_type}."} (the answer tokenized
 * apart from the prompt, as the harvest and {@link CellTypePredictor#answerLogProbs} do), the last answer token fed to
 * nothing since nothing follows it. Every position then predicts the next token:
 * <ul>
 *   <li><b>answer loss</b>: -log p(answer token | prompt, earlier answer tokens), over the answer tokens only;
 *   <li><b>prompt loss</b>: -log p(next token) over every next-token position of prompt + answer (the first prompt
 *       token is predicted by nothing, so a cell of P prompt and A answer tokens adds P + A - 1 positions);
 *   <li><b>KL(original || variant)</b>: sum_v p_orig(v) (log p_orig(v) - log p_variant(v)) of the next-token
 *       distributions, over the same positions as the prompt loss ({@code kl}) and over the answer positions only
 *       ({@code answer_kl}).
 * </ul>
 * A cell without an annotated type adds only its prompt's positions and no accuracy.
 *
 * <p>Dictionaries are scored on the original model's MLP input {@code blocks.L.ln2.hook_normalized} (and output
 * {@code blocks.L.hook_mlp_out}) at the tokens the harvest stores under its {@code all} policy: every prompt token but
 * special tokens (BOS, end-of-text). A transcoder's target is the MLP output, an SAE's the MLP input. In the replaced
 * variants a transcoder stands in for its MLP; an SAE cannot (it reconstructs the input), so its reconstruction is
 * spliced in as the MLP's input instead and the real MLP runs on it.
 *
 * <p>Accuracy is greedy cell-type prediction as the harvest makes it: when the teacher-forced argmax follows the
 * annotated answer at every answer position (and that provably equals greedy decoding, see
 * {@link AnnotatedAnswer}), the prediction is the annotation; otherwise the cell is decoded with
 * {@link CellTypePredictor} under the same variant.
 */
public final class CellEvaluator {
  private final ExecutorModels.Loaded loaded;
  private final GptNeoX model;
  private final EvaluateParams params;
  private final int[] layers;
  private final List<Transcoder> dictionaries = new ArrayList<>();
  private final List<Variant> variants;
  private final List<ForwardOptions> variantOptions = new ArrayList<>();
  private final ForwardOptions originalOptions;
  private final Map<String, AnnotatedAnswer> answers = new HashMap<>();

  /**
   * @param dictionaries layer to its transcoder or SAE; each must read and write the model's d_model
   * @throws IllegalArgumentException naming the layer and both sizes when a dictionary does not fit the model
   */
  public CellEvaluator(ExecutorModels.Loaded loaded, SortedMap<Integer, Transcoder> dictionaries,
      EvaluateParams params) {
    this.loaded = loaded;
    this.model = loaded.model();
    this.params = params;
    int numLayers = model.config().numLayers();
    int dModel = model.config().hiddenSize();
    this.layers = new int[dictionaries.size()];
    int i = 0;
    for (Map.Entry<Integer, Transcoder> e : new TreeMap<>(dictionaries).entrySet()) {
      int layer = e.getKey();
      Transcoder t = e.getValue();
      checkFits(layer, t.config().dIn(), t.config().dOut(), t.config().layer(), numLayers, dModel);
      layers[i++] = layer;
      this.dictionaries.add(t);
    }
    this.variants = Variant.all(layers);
    List<String> keep = new ArrayList<>();
    for (int layer : layers) {
      keep.add(HookNames.mlpIn(layer));
      keep.add(HookNames.mlpOut(layer));
    }
    keep.add(HookNames.lnFinalNormalized());
    ForwardOptions plain = ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE);
    this.originalOptions = plain.keeping(keep);
    ForwardOptions scoring = plain.keeping(List.of(HookNames.lnFinalNormalized()));
    for (Variant v : variants) {
      ForwardOptions o = scoring;
      switch (v.name()) {
        case Variant.ORIGINAL -> { }
        case Variant.REPLACED_ALL -> {
          for (int k = 0; k < layers.length; k++) {
            o = replace(o, layers[k], this.dictionaries.get(k));
          }
        }
        case Variant.ZERO_MLP -> {
          for (int layer = 0; layer < numLayers; layer++) {
            o = o.replacingMlp(layer, MlpReplacement.zero());
          }
        }
        default -> o = replace(o, v.layer(), dictionaries.get(v.layer()));
      }
      variantOptions.add(o);
    }
  }

  /**
   * Checks that a dictionary fits the model: its layer exists, it reads and writes d_model, and its cfg.json names the
   * layer it is filed under.
   */
  public static void checkFits(int layer, int dIn, int dOut, int cfgLayer, int numLayers, int dModel) {
    if (layer < 0 || layer >= numLayers) {
      throw new IllegalArgumentException(String.format(
          "transcoder of layer %d: the model has %d layers (0..%d)", layer, numLayers, numLayers - 1));
    }
    if (cfgLayer != layer) {
      throw new IllegalArgumentException(String.format(
          "transcoder filed under layer %d says hook_layer %d in its cfg.json", layer, cfgLayer));
    }
    if (dIn != dModel || dOut != dModel) {
      throw new IllegalArgumentException(String.format(
          "transcoder of layer %d has d_in %d and d_out %d; the model's d_model is %d. Was it trained on another "
              + "model's activations?", layer, dIn, dOut, dModel));
    }
  }

  private static ForwardOptions replace(ForwardOptions o, int layer, Transcoder t) {
    return t.config().kind() == TranscoderKind.TRANSCODER
        ? o.replacingMlp(layer, t)
        : o.editing(HookNames.mlpIn(layer), t::forward);
  }

  /** The variants in the order of {@link EvaluationSums}' arrays. */
  public List<Variant> variants() {
    return variants;
  }

  /** Empty sums shaped for these dictionaries. */
  public EvaluationSums emptySums() {
    return new EvaluationSums(layers, dictionaries.stream().mapToInt(t -> targetWidth(t.config())).toArray(),
        dictionaries.stream().mapToInt(t -> t.config().dSae()).toArray());
  }

  /** Width of what a dictionary reconstructs: the MLP output for a transcoder, the MLP input for an SAE. */
  static int targetWidth(TranscoderConfig c) {
    return c.kind() == TranscoderKind.SAE ? c.dIn() : c.dOut();
  }

  /** One cell after tokenization. */
  private static final class Cell {
    final CellPrompt source;
    final TokenizedPrompt prompt;
    final AnnotatedAnswer answer;
    final long[] input;
    final int[] dictionaryPositions;
    /** Per variant: the teacher-forced argmax followed the annotated answer at every answer position. */
    final boolean[] followsAnnotation;

    Cell(CellPrompt source, TokenizedPrompt prompt, AnnotatedAnswer answer, int[] dictionaryPositions,
        int variants) {
      this.source = source;
      this.prompt = prompt;
      this.answer = answer;
      long[] p = prompt.ids();
      long[] a = answer.ids();
      this.input = a.length == 0 ? p : Arrays.copyOf(p, p.length + a.length - 1);
      if (a.length > 0) {
        System.arraycopy(a, 0, input, p.length, a.length - 1);
      }
      this.dictionaryPositions = dictionaryPositions;
      this.followsAnnotation = new boolean[variants];
    }

    /** The token at {@code pos} of prompt + answer. */
    long fullToken(int pos) {
      int p = prompt.length();
      return pos < p ? prompt.id(pos) : answer.ids()[pos - p];
    }

    /** Positions predicting a next token. */
    int scored() {
      return answer.ids().length == 0 ? prompt.length() - 1 : input.length;
    }
  }

  /** Scores the cells and adds the results to {@code sums} (shaped by {@link #emptySums}). */
  public void evaluate(List<CellPrompt> input, EvaluationSums sums) {
    Set<Long> special = loaded.specialIds();
    int maxPositions = model.config().maxPositions();
    List<Cell> cells = new ArrayList<>(input.size());
    for (CellPrompt c : input) {
      TokenizedPrompt tp = c.tokenize(loaded.prompts());
      int[] positions = new int[tp.length()];
      int n = 0;
      for (int pos = 0; pos < tp.length(); pos++) {
        if (!special.contains(tp.id(pos))) {
          positions[n++] = pos;
        }
      }
      Cell cell = new Cell(c, tp, answer(c.cellType()), Arrays.copyOf(positions, n), variants.size());
      if (cell.input.length > maxPositions) {
        throw new IllegalArgumentException(String.format(
            "cell %s: prompt of %d tokens plus answer of %d is longer than the model's max_position_embeddings %d",
            c.cellId(), tp.length(), cell.answer.ids().length, maxPositions));
      }
      cells.add(cell);
    }
    int[] lengths = cells.stream().mapToInt(c -> c.input.length).toArray();
    for (int[] batch : LengthBatches.of(lengths, params.tokensPerBatch()).batches()) {
      List<Cell> rows = new ArrayList<>(batch.length);
      for (int i : batch) {
        rows.add(cells.get(i));
      }
      runBatch(rows, sums);
    }
    for (Cell c : cells) {
      sums.cells++;
      if (c.answer.ids().length > 0) {
        sums.annotatedCells++;
      }
    }
    for (int v = 0; v < variants.size(); v++) {
      if (variants.get(v).scoresAccuracy()) {
        sums.correct[v] += correctAnswers(cells, v);
      }
    }
  }

  private AnnotatedAnswer answer(String cellType) {
    if (cellType == null) {
      return AnnotatedAnswer.NONE;
    }
    return answers.computeIfAbsent(cellType, type -> AnnotatedAnswer.of(type, loaded.answers(),
        params.model().predictOptions(), model.config().eosTokenId()));
  }

  private void runBatch(List<Cell> rows, EvaluationSums sums) {
    TokenBatch batch = TokenBatch.rightPadded(rows.stream().map(c -> c.input).toList(), 0);
    int t = batch.seqLen();
    int n = rows.stream().mapToInt(Cell::scored).sum();
    long[] readFrom = new long[n]; // flat (row * T + position) whose hidden state predicts the target
    long[] targets = new long[n];
    boolean[] isAnswer = new boolean[n];
    int[] answerFrom = new int[rows.size()]; // index into the n positions of each row's first answer position
    int k = 0;
    for (int r = 0; r < rows.size(); r++) {
      Cell c = rows.get(r);
      int p = c.prompt.length();
      answerFrom[r] = k + p - 1;
      for (int pos = 0; pos < c.scored(); pos++) {
        readFrom[k] = (long) r * t + pos;
        targets[k] = c.fullToken(pos + 1);
        isAnswer[k] = pos >= p - 1;
        k++;
      }
    }
    int m = rows.stream().mapToInt(c -> c.dictionaryPositions.length).sum();
    long[] dictionaryFrom = new long[m];
    k = 0;
    for (int r = 0; r < rows.size(); r++) {
      for (int pos : rows.get(r).dictionaryPositions) {
        dictionaryFrom[k++] = (long) r * t + pos;
      }
    }
    for (Cell c : rows) {
      sums.answerTokens += c.answer.ids().length;
      sums.allTokens += c.scored();
    }

    try (NDManager batchManager = model.manager().newSubManager()) {
      NDArray original;
      NDArray originalProbs;
      try (ActivationCache cache = model.run(batchManager, batch, originalOptions)) {
        original = logProbs(cache, readFrom);
        original.attach(batchManager);
        originalProbs = original.exp();
        if (m > 0) {
          scoreDictionaries(cache, dictionaryFrom, sums);
        }
      }
      for (int v = 0; v < variants.size(); v++) {
        try (NDManager scope = batchManager.newSubManager()) {
          NDArray logProbs;
          ActivationCache cache = null;
          if (v == Variant.ORIGINAL_INDEX) {
            logProbs = original;
          } else {
            cache = model.run(scope, batch, variantOptions.get(v));
            logProbs = logProbs(cache, readFrom);
          }
          NDArray target = logProbs.getManager().create(targets, new Shape(n, 1));
          float[] nll = logProbs.gather(target, 1).neg().toFloatArray(); // (N)
          // sum_v p_orig (log p_orig - log p_variant), written with the variant's array first so every
          // (N, V) temporary lands in its cache and is freed with it.
          float[] kl = v == Variant.ORIGINAL_INDEX ? new float[n]
              : logProbs.sub(original).mul(originalProbs).sum(new int[] {1}).neg().toFloatArray(); // (N)
          long[] argmax = logProbs.argMax(1).toLongArray();
          for (int i = 0; i < n; i++) {
            sums.allNll[v] += nll[i];
            sums.kl[v] += kl[i];
            if (isAnswer[i]) {
              sums.answerNll[v] += nll[i];
              sums.answerKl[v] += kl[i];
            }
          }
          for (int r = 0; r < rows.size(); r++) {
            Cell c = rows.get(r);
            long[] a = c.answer.ids();
            boolean follows = a.length > 0;
            for (int j = 0; j < a.length; j++) {
              follows &= argmax[answerFrom[r] + j] == a[j];
            }
            c.followsAnnotation[v] = follows;
          }
          if (cache != null) {
            cache.close();
          }
        }
      }
    }
  }

  /** Log-softmax (N, V) fp32 of the logits at flat positions {@code readFrom}, in the cache's manager. */
  private NDArray logProbs(ActivationCache cache, long[] readFrom) {
    NDManager mm = cache.manager();
    NDArray hidden = cache.get(HookNames.lnFinalNormalized()); // (B, T, C)
    NDArray picked = rows(mm.create(readFrom), hidden.reshape(-1, hidden.getShape().get(2))); // (N, C)
    NDArray logits = model.unembed(picked); // (N, V)
    if (logits.getDataType() != DataType.FLOAT32) {
      logits = logits.toType(DataType.FLOAT32, false);
    }
    return logits.logSoftmax(1);
  }

  /** Reconstruction error, target moments and feature firing of every dictionary at the given flat positions. */
  private void scoreDictionaries(ActivationCache cache, long[] flat, EvaluationSums sums) {
    NDManager mm = cache.manager();
    int d = model.config().hiddenSize();
    NDArray index = mm.create(flat);
    for (int i = 0; i < layers.length; i++) {
      Transcoder t = dictionaries.get(i);
      NDArray x = rows(index, cache.get(HookNames.mlpIn(layers[i])).reshape(-1, d)).toType(DataType.FLOAT32, false);
      NDArray target = t.config().kind() == TranscoderKind.SAE ? x
          : rows(index, cache.get(HookNames.mlpOut(layers[i])).reshape(-1, d)).toType(DataType.FLOAT32, false);
      NDArray z = t.encode(x); // (M, d_sae)
      NDArray reconstruction = t.decode(z, x); // (M, d_target): features plus the skip path, if any
      NDArray y = target.toDevice(reconstruction.getDevice(), false);
      sums.evTokens[i] += flat.length;
      sums.sse[i] += sum(y.sub(reconstruction).square().sum(new int[] {0}).toFloatArray());
      float[] columnSums = y.sum(new int[] {0}).toFloatArray();
      for (int j = 0; j < columnSums.length; j++) {
        sums.targetSum[i][j] += columnSums[j];
      }
      sums.targetSumSq[i] += sum(y.square().sum(new int[] {0}).toFloatArray());
      long[] fired = z.neq(0f).toType(DataType.INT64, false).sum(new int[] {0}).toLongArray(); // (d_sae)
      for (int j = 0; j < fired.length; j++) {
        sums.fired[i][j] += fired[j];
        sums.active[i] += fired[j];
      }
    }
  }

  private static double sum(float[] values) {
    double s = 0;
    for (float v : values) {
      s += v;
    }
    return s;
  }

  /** Rows of {@code table} picked by integer {@code index}, as one kernel (an embedding lookup). */
  private static NDArray rows(NDArray index, NDArray table) {
    return index.getNDArrayInternal().embedding(index, table, SparseFormat.DENSE).singletonOrThrow();
  }

  /** Annotated cells whose greedy answer under variant {@code v} is their annotation. */
  private long correctAnswers(List<Cell> cells, int v) {
    List<Cell> toDecode = new ArrayList<>();
    long correct = 0;
    for (Cell c : cells) {
      if (c.answer.ids().length == 0) {
        continue;
      }
      if (c.followsAnnotation[v] && c.answer.greedyEquivalent()) {
        correct++;
      } else {
        toDecode.add(c);
      }
    }
    if (toDecode.isEmpty()) {
      return correct;
    }
    CellTypePredictor predictor = new CellTypePredictor(model, loaded.answers(), params.model().predictOptions(),
        variantOptions.get(v));
    List<Prediction> predictions = predictor.predict(toDecode.stream().map(c -> c.source.prompt()).toList());
    for (int i = 0; i < toDecode.size(); i++) {
      if (toDecode.get(i).source.cellType().equals(predictions.get(i).answer())) {
        correct++;
      }
    }
    return correct;
  }
}
