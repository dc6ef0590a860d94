package org.cellcircuits.sentences;

import java.io.Closeable;
import java.io.IOException;
import java.util.Map;

/**
 * Walks the cells of one row range after another, building each kept cell's sentence into reusable buffers:
 * what a task of the {@code sentences} stage does, whatever it then makes of the cell (a Spark row, a Parquet
 * record). One block of {@code rows-per-read} cells of the atlas is in memory at a time; the atlas is opened on
 * the first range and kept open for the next ones. Not thread-safe.
 *
 * <p>In c2s mode each range starts from its generator state and, at its end, the draws taken are compared with
 * what the pre-pass counted when the range carries its expected end state (see {@link #endState()}).
 */
final class SentenceCursor implements Closeable {
  private final AtlasSource source;
  private final AtlasSubset subset;
  private final SentencesParams params;

  private AtlasReader reader;
  private AtlasMeta meta;
  private CellSentenceBuilder builder;
  private PromptTemplate.Utf8 prompt;

  private BuildTask task;
  private NumpyRandomState rng;
  private long nextRead;
  private CellBlock block;
  private String[] cellTypes;
  private String[] donors;
  private String[] tissues;
  private int nextRow;

  private int row = -1;
  private int genes;
  private byte[] sentence;
  private long builtInTask;

  SentenceCursor(AtlasSource source, AtlasSubset subset, SentencesParams params) {
    this.source = source;
    this.subset = subset;
    this.params = params;
  }

  /** Begins a range: opens the atlas if this is the first, and restores the range's generator state. */
  void start(BuildTask t) throws IOException {
    if (reader == null) {
      reader = source.open();
      meta = reader.meta();
      builder = CellSentenceBuilder.of(meta, subset, params);
      prompt = params.template().utf8(params.topK(), params.organism());
    }
    task = t;
    rng = t.startState() == null ? null : NumpyRandomState.restore(t.startState());
    nextRead = t.start();
    block = null;
    nextRow = 0;
    row = -1;
    builtInTask = 0;
  }

  /**
   * Moves to the range's next kept cell and builds it; false at the end of the range (after the end-state check).
   * Dropped cells are skipped.
   */
  boolean next() throws IOException {
    while (true) {
      if (block != null && nextRow < block.rows()) {
        int r = nextRow++;
        int[] ip = block.indptr();
        int n = builder.rank(block.cellIds()[r], block.indices(), block.values(), ip[r], ip[r + 1], rng);
        if (n >= 0) {
          row = r;
          genes = n;
          sentence = builder.sentenceUtf8(n);
          builtInTask++;
          return true;
        }
      } else if (nextRead < task.end()) {
        long e = Math.min(task.end(), nextRead + params.rowsPerRead());
        block = BlockChecks.readChecked(reader, meta.source(), nextRead, e);
        cellTypes = obs(params.cellTypeColumn(), nextRead, e);
        donors = obs(params.donorColumn(), nextRead, e);
        tissues = obs(params.tissueColumn(), nextRead, e);
        nextRead = e;
        nextRow = 0;
      } else {
        checkEndState();
        row = -1;
        return false;
      }
    }
  }

  /**
   * The generator state after the range's last cell (null in gene-order mode). The state is the generator's
   * position in its stream, so comparing it with the next range's start state compares the draws taken with
   * those the pre-pass counted.
   */
  NumpyRandomState.State endState() {
    return rng == null ? null : rng.state();
  }

  /** Sentences built in the current range so far. */
  long builtInTask() {
    return builtInTask;
  }

  String cellId() {
    return block.cellIds()[row];
  }

  /** obs value of the current cell, or null where the column is not read or the value is missing. */
  String cellType() {
    return cellTypes == null ? null : cellTypes[row];
  }

  String donor() {
    return donors == null ? null : donors[row];
  }

  String tissue() {
    return tissues == null ? null : tissues[row];
  }

  long atlasRow() {
    return block.firstRow() + row;
  }

  /** Words in the current cell's sentence. */
  int genes() {
    return genes;
  }

  /** Gene column of the current sentence's i-th word. */
  int geneColumn(int i) {
    return builder.rankedColumn(i);
  }

  /** The builder's word (symbol, upper-cased or not) for a gene column. */
  String word(int column) {
    return builder.word(column);
  }

  int nGenes() {
    return meta.nGenes();
  }

  /** The current sentence as UTF-8 (a new array, owned by the caller). */
  byte[] sentenceUtf8() {
    return sentence;
  }

  /** The current prompt as UTF-8 (a new array). */
  byte[] promptUtf8() {
    return prompt.format(sentence);
  }

  int expressedGenes() {
    return builder.expressedGenes();
  }

  private void checkEndState() {
    if (rng != null && task.endState() != null && !rng.state().equals(task.endState())) {
      throw new IllegalStateException(String.format("atlas %s rows [%d, %d): building took other tie-break "
          + "draws than the pre-pass counted; the reader's storedPerRow and read disagree on the stored "
          + "entries of these rows", meta.source(), task.start(), task.end()));
    }
  }

  private String[] obs(String column, long start, long end) {
    if (column.isEmpty()) {
      return null;
    }
    Map<String, String[]> obs = block.obs();
    String[] values = obs == null ? null : obs.get(column);
    if (values == null || values.length != block.rows()) {
      throw new IllegalStateException(String.format("atlas %s: the reader returned %s for obs column '%s' of "
          + "rows [%d, %d); expected %d values", meta.source(),
          values == null ? "nothing" : values.length + " values", column, start, end, block.rows()));
    }
    return values;
  }

  @Override
  public void close() throws IOException {
    if (reader != null) {
      AtlasReader r = reader;
      reader = null;
      r.close();
    }
  }
}
