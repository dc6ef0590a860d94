package org.cellcircuits.harvest;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.parquet.io.api.Binary;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.AnnotatedAnswer;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.CellTypePredictor;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HookNames;
import org.cellcircuits.model.LengthBatches;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.Prediction;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.model.TokenizedPrompt;
import org.cellcircuits.runtime.ExecutorModels;

/**
 * Harvests the cells of one partition: tokenizes them, runs length-sorted batches through the model keeping only the
 * chosen layers' MLP input ({@code blocks.L.ln2.hook_normalized}) and output ({@code blocks.L.hook_mlp_out}), hands
 * every stored token to a {@link TokenSink}, and predicts each cell's type.
 *
 * <p>One forward pass per batch serves both purposes. Each row is the prompt followed by the annotated answer
 * {@code " {cell_type}."}; the model is causal, so the prompt positions' activations are exactly those of the prompt
 * alone, and the positions before each answer token give that token's log-probability: the log-prob of the annotated
 * type, as {@link CellTypePredictor#answerLogProbs} defines it, at no extra pass. The same logits also settle the
 * greedy answer when the model's argmax at every answer position is the annotated token: greedy decoding would then
 * generate exactly the annotated answer and stop at its '.', so the prediction is the annotated type with that
 * log-prob. Only cells where the model departs from the annotation (or where that argument does not hold: no
 * annotation, a type containing '.', an answer longer than max-new-tokens) are decoded, with
 * {@link CellTypePredictor#predictContinuing} from the same pass's keys and values: the prompt's positions are never
 * run twice (at the real model's shape a second prefill was 60% of the harvest's time when no cell follows its
 * annotation). The two paths agree up to the order of floating-point sums: an argmax that is a near-tie (within ~1e-5)
 * could fall the other way in a decode.
 */
public final class PartitionHarvester {

  /** Where stored tokens go: one call per (layer, token). Buffers are reused after the call returns. */
  public interface TokenSink {
    void write(int layer, Binary cellId, int pos, int tokenId, Binary geneSymbol, int geneRank,
        byte[] mlpIn, int inOffset, byte[] mlpOut, int outOffset) throws IOException;
  }

  /**
   * What one partition did.
   *
   * @param predictions one per cell, in input order
   * @param promptTokens tokens over all prompts
   * @param storedTokens tokens stored per layer (the same for every layer)
   * @param forwardTokens real positions the forward passes computed (prompts plus answers)
   * @param paddedTokens positions computed including padding
   * @param decodedCells cells whose answer needed greedy decoding
   * @param tokenizeNanos time tokenizing; {@code forwardNanos} in forward passes (and answer scoring);
   *     {@code extractNanos} copying activations to the host and encoding them; {@code writeNanos} in the sink;
   *     {@code decodeNanos} greedy decoding
   */
  public record Result(List<CellPrediction> predictions, long promptTokens, long storedTokens, long forwardTokens,
      long paddedTokens, long decodedCells, long tokenizeNanos, long forwardNanos, long extractNanos, long writeNanos,
      long decodeNanos) {

    public double paddingWaste() {
      return paddedTokens == 0 ? 0 : 1.0 - (double) forwardTokens / paddedTokens;
    }
  }

  private final GptNeoX model;
  private final ExecutorModels.Loaded loaded;
  private final HarvestParams params;
  private final List<Integer> layers;
  private final ForwardOptions options;
  private final CellTypePredictor predictor;
  private final Map<String, AnnotatedAnswer> answers = new HashMap<>();

  /**
   * @param layers block indices to store, validated against the model
   */
  public PartitionHarvester(ExecutorModels.Loaded loaded, HarvestParams params, List<Integer> layers) {
    this.loaded = loaded;
    this.model = loaded.model();
    this.params = params;
    this.layers = List.copyOf(layers);
    List<String> keep = new ArrayList<>();
    for (int layer : this.layers) {
      if (layer < 0 || layer >= model.config().numLayers()) {
        throw new IllegalArgumentException(String.format(
            "layer %d is out of range: the model has %d layers (0..%d)", layer, model.config().numLayers(),
            model.config().numLayers() - 1));
      }
      keep.add(HookNames.mlpIn(layer));
      keep.add(HookNames.mlpOut(layer));
    }
    keep.add(HookNames.lnFinalNormalized());
    this.options = ForwardOptions.logitsOnly().withLogits(LogitsMode.NONE).keeping(keep);
    this.predictor = new CellTypePredictor(model, loaded.answers(), params.model().predictOptions());
  }

  /** One cell after tokenization. */
  private static final class Cell {
    final CellPrompt source;
    final TokenizedPrompt prompt;
    final AnnotatedAnswer answer;
    final int[] stored;
    final Binary id;
    Binary[] geneBinaries;
    double annotatedLogProb = Double.NaN;
    boolean greedyIsAnnotation;
    Prediction decoded; // when greedy decoding was needed

    Cell(CellPrompt source, TokenizedPrompt prompt, AnnotatedAnswer answer, int[] stored) {
      this.source = source;
      this.prompt = prompt;
      this.answer = answer;
      this.stored = stored;
      this.id = Binary.fromString(source.cellId());
    }

    int length() {
      return prompt.length() + answer.ids().length;
    }

    Binary gene(int token) {
      int rank = prompt.rank(token);
      if (rank < 0) {
        return null;
      }
      if (geneBinaries == null) {
        geneBinaries = new Binary[prompt.genes().size()];
      }
      if (geneBinaries[rank] == null) {
        geneBinaries[rank] = Binary.fromString(prompt.geneSpan(rank).gene());
      }
      return geneBinaries[rank];
    }
  }

  private AnnotatedAnswer answer(String cellType) {
    if (cellType == null) {
      return AnnotatedAnswer.NONE;
    }
    return answers.computeIfAbsent(cellType, type -> AnnotatedAnswer.of(type, loaded.answers(),
        params.model().predictOptions(),
        model.config().eosTokenId()));
  }

  /** Harvests the cells and returns their predictions (in input order) and counts. */
  public Result run(List<CellPrompt> input, TokenSink sink) throws IOException {
    long tokenizeStart = System.nanoTime();
    int maxPositions = model.config().maxPositions();
    List<Cell> cells = new ArrayList<>(input.size());
    long promptTokens = 0;
    long stored = 0;
    for (CellPrompt c : input) {
      TokenizedPrompt tp = c.tokenize(loaded.prompts());
      int[] keep = params.split().isHeldOut(c.cellId()) ? new int[0]
          : params.tokens().select(c.cellId(), tp, loaded.specialIds());
      Cell cell = new Cell(c, tp, answer(c.cellType()), keep);
      if (cell.length() > maxPositions) {
        throw new IllegalArgumentException(String.format(
            "cell %s: prompt of %d tokens plus answer of %d is longer than the model's max_position_embeddings %d",
            c.cellId(), tp.length(), cell.answer.ids().length, maxPositions));
      }
      promptTokens += tp.length();
      stored += cell.stored.length;
      cells.add(cell);
    }

    long tokenizeNanos = System.nanoTime() - tokenizeStart;
    int[] lengths = cells.stream().mapToInt(Cell::length).toArray();
    LengthBatches batches = LengthBatches.of(lengths, params.tokensPerBatch());
    long[] nanos = new long[4];
    long decodedCells = 0;
    for (int[] batch : batches.batches()) {
      List<Cell> rows = new ArrayList<>(batch.length);
      for (int i : batch) {
        rows.add(cells.get(i));
      }
      decodedCells += runBatch(rows, sink, nanos);
    }

    List<CellPrediction> predictions = new ArrayList<>(cells.size());
    for (Cell c : cells) {
      String annotated = c.source.cellType();
      Prediction p = c.decoded;
      String predicted = p == null ? annotated : p.answer();
      double predictedLogProb = p == null ? c.annotatedLogProb : p.logProb();
      boolean complete = p == null || p.stopped();
      predictions.add(new CellPrediction(c.source.cellId(), annotated, predicted, predictedLogProb,
          c.annotatedLogProb, annotated == null ? null : annotated.equals(predicted), complete, c.prompt.length()));
    }
    return new Result(predictions, promptTokens, stored, batches.realTokens(), batches.paddedTokens(),
        decodedCells, tokenizeNanos, nanos[0], nanos[1], nanos[2], nanos[3]);
  }

  /**
   * One length batch: the forward pass, its stored tokens to the sink, and the greedy answers of the rows whose
   * answer the teacher-forced logits do not settle, decoded on from the pass's own keys and values (the prompt is
   * not run twice).
   *
   * @return rows decoded
   */
  private int runBatch(List<Cell> rows, TokenSink sink, long[] nanos) throws IOException {
    List<long[]> sequences = new ArrayList<>(rows.size());
    for (Cell c : rows) {
      long[] ids = Arrays.copyOf(c.prompt.ids(), c.length());
      System.arraycopy(c.answer.ids(), 0, ids, c.prompt.length(), c.answer.ids().length);
      sequences.add(ids);
    }
    TokenBatch batch = TokenBatch.rightPadded(sequences, 0);
    int t = batch.seqLen();
    int d = model.config().hiddenSize();
    long start = System.nanoTime();
    try (ActivationCache cache = model.run(model.manager(), batch, options, true)) {
      NDManager m = cache.manager();
      // Flat (row * T + position) of every stored token, in row order then position order.
      int n = 0;
      for (Cell c : rows) {
        n += c.stored.length;
      }
      long[] flat = new long[n];
      int k = 0;
      for (int r = 0; r < rows.size(); r++) {
        for (int pos : rows.get(r).stored) {
          flat[k++] = (long) r * t + pos;
        }
      }
      scoreAnswers(rows, cache, t);
      nanos[0] += System.nanoTime() - start;
      if (n > 0) {
        NDArray index = m.create(flat);
        int width = VectorFormat.BYTES_PER_VALUE * d;
        byte[] in = new byte[n * width];
        byte[] out = new byte[n * width];
        for (int layer : layers) {
          long s0 = System.nanoTime();
          encodeRows(cache.get(HookNames.mlpIn(layer)), index, d, in);
          encodeRows(cache.get(HookNames.mlpOut(layer)), index, d, out);
          // written below and never read again: freed now, so decoding holds the keys and values, not these too
          cache.release(HookNames.mlpIn(layer));
          cache.release(HookNames.mlpOut(layer));
          long s1 = System.nanoTime();
          int j = 0;
          for (Cell c : rows) {
            for (int pos : c.stored) {
              sink.write(layer, c.id, pos, (int) c.prompt.id(pos), c.gene(pos), c.prompt.rank(pos),
                  in, j * width, out, j * width);
              j++;
            }
          }
          nanos[1] += s1 - s0;
          nanos[2] += System.nanoTime() - s1;
        }
      }
      return decode(rows, cache, nanos);
    }
  }

  /** Greedy answers of the rows that need decoding, from the batch's cache; returns how many. */
  private int decode(List<Cell> rows, ActivationCache cache, long[] nanos) {
    long start = System.nanoTime();
    int[] open = IntStream.range(0, rows.size()).filter(r -> !rows.get(r).greedyIsAnnotation).toArray();
    if (open.length == 0) {
      return 0;
    }
    int[] promptLengths = new int[open.length];
    for (int i = 0; i < open.length; i++) {
      promptLengths[i] = rows.get(open[i]).prompt.length();
    }
    List<Prediction> p = predictor.predictContinuing(cache, open, promptLengths);
    for (int i = 0; i < open.length; i++) {
      rows.get(open[i]).decoded = p.get(i);
    }
    nanos[3] += System.nanoTime() - start;
    return open.length;
  }

  /** Rows {@code index} of activation (B, T, C), encoded into {@code dst}. */
  private void encodeRows(NDArray activation, NDArray index, int d, byte[] dst) {
    NDArray flat = activation.reshape(-1, d); // (B*T, C)
    VectorEncoder.encode(gatherRows(index, flat), params.vectorFormat(), dst); // (N, C)
  }

  /** Rows of {@code table} picked by integer {@code index}, as one kernel (an embedding lookup). */
  static NDArray gatherRows(NDArray index, NDArray table) {
    return index.getNDArrayInternal().embedding(index, table, SparseFormat.DENSE).singletonOrThrow();
  }

  /**
   * Log-prob of each cell's annotated answer from the teacher-forced positions, and whether the model's argmax
   * follows it at every answer position.
   */
  private void scoreAnswers(List<Cell> rows, ActivationCache cache, int t) {
    int n = 0;
    for (Cell c : rows) {
      n += c.answer.ids().length;
    }
    if (n == 0) {
      return;
    }
    long[] readFrom = new long[n];
    long[] targets = new long[n];
    int k = 0;
    for (int r = 0; r < rows.size(); r++) {
      Cell c = rows.get(r);
      int p = c.prompt.length();
      for (int a = 0; a < c.answer.ids().length; a++) {
        readFrom[k] = (long) r * t + p - 1 + a; // the logits at position q predict the token at q + 1
        targets[k] = c.answer.ids()[a];
        k++;
      }
    }
    NDManager m = cache.manager();
    NDArray hidden = cache.get(HookNames.lnFinalNormalized());
    NDArray picked = gatherRows(m.create(readFrom), hidden.reshape(-1, hidden.getShape().get(2))); // (N, C)
    NDArray logits = model.unembed(picked);
    if (logits.getDataType() != DataType.FLOAT32) {
      logits = logits.toType(DataType.FLOAT32, false);
    }
    float[] logProbs = logits.logSoftmax(1).gather(m.create(targets, new Shape(n, 1)), 1).toFloatArray();
    long[] argmax = logits.argMax(1).toLongArray();
    k = 0;
    for (Cell c : rows) {
      double sum = 0;
      boolean follows = c.answer.ids().length > 0;
      for (int a = 0; a < c.answer.ids().length; a++) {
        sum += logProbs[k];
        follows &= argmax[k] == targets[k];
        k++;
      }
      if (c.answer.ids().length > 0) {
        c.annotatedLogProb = sum;
      }
      c.greedyIsAnnotation = follows && c.answer.greedyEquivalent();
    }
  }
}
