package org.cellcircuits.sentences;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.unsafe.types.UTF8String;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rows of the sentences Dataset ({@link SentencesJob.Plan#sentences}): builds the rows of each task it is given,
 * reading rowsPerRead cells at a time, in Spark's internal row form.
 */
final class SentenceRows implements FlatMapFunction<Iterator<BuildTask>, InternalRow> {
  private static final long serialVersionUID = 1L;
  // Under the stage's logger, so a task's lines sit with the driver's sentences lines.
  private static final Logger LOG = LoggerFactory.getLogger(SentencesJob.class);
  private final AtlasSource source;
  private final Broadcast<AtlasSubset> subset;
  private final SentencesParams params;
  private final LongAccumulator cellsBuilt;

  SentenceRows(AtlasSource source, Broadcast<AtlasSubset> subset, SentencesParams params,
               LongAccumulator cellsBuilt) {
    this.source = source;
    this.subset = subset;
    this.params = params;
    this.cellsBuilt = cellsBuilt;
  }

  @Override
  public Iterator<InternalRow> call(Iterator<BuildTask> tasks) {
    return new RowIterator(tasks, source, subset.value(), params, cellsBuilt);
  }

  /** Lazy rows of a partition's tasks, made from a {@link SentenceCursor}. */
  private static final class RowIterator implements Iterator<InternalRow> {
    private final Iterator<BuildTask> tasks;
    private final SentenceCursor cursor;
    private final LongAccumulator cellsBuilt;
    private BuildTask task;
    private InternalRow next;
    private UTF8String[] words;
    private long taskStartNanos;

    RowIterator(Iterator<BuildTask> tasks, AtlasSource source, AtlasSubset subset, SentencesParams params,
                LongAccumulator cellsBuilt) {
      this.tasks = tasks;
      this.cursor = new SentenceCursor(source, subset, params);
      this.cellsBuilt = cellsBuilt;
      TaskContext ctx = TaskContext.get();
      if (ctx != null) {
        // Spark may stop consuming early (a failure, a limit): close the file either way.
        ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> closeCursor());
      }
    }

    @Override
    public boolean hasNext() {
      try {
        while (next == null) {
          if (task == null) {
            if (!tasks.hasNext()) {
              closeCursor();
              return false;
            }
            task = tasks.next();
            cursor.start(task);
            taskStartNanos = System.nanoTime();
            if (words == null) {
              words = new UTF8String[cursor.nGenes()];
              for (int g = 0; g < words.length; g++) {
                words[g] = UTF8String.fromString(cursor.word(g));
              }
            }
          } else if (cursor.next()) {
            next = row();
          } else {
            task.logBuilt(cursor.builtInTask(), taskStartNanos);
            task = null;
          }
        }
        return true;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public InternalRow next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      InternalRow row = next;
      next = null;
      if (cellsBuilt != null) {
        cellsBuilt.add(1);
      }
      return row;
    }

    private InternalRow row() {
      SentenceCursor c = cursor;
      int n = c.genes();
      Object[] genes = new Object[n];
      for (int i = 0; i < n; i++) {
        genes[i] = words[c.geneColumn(i)];
      }
      byte[] sentence = c.sentenceUtf8();
      return new GenericInternalRow(new Object[] {UTF8String.fromString(c.cellId()), utf8(c.cellType()),
          utf8(c.donor()), utf8(c.tissue()), new GenericArrayData(genes), UTF8String.fromBytes(sentence),
          UTF8String.fromBytes(c.promptUtf8()), c.expressedGenes(), c.atlasRow()});
    }

    private static UTF8String utf8(String value) {
      return value == null ? null : UTF8String.fromString(value);
    }

    private void closeCursor() {
      try {
        cursor.close();
      } catch (IOException e) {
        LOG.warn("sentences: closing the atlas: {}", e.toString());
      }
    }
  }
}
