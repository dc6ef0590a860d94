package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;

/**
 * Writes each build task's range as one Parquet file named by range and attempt, and reports it as a
 * {@link WrittenFile} ({@link SentencesJob.Plan#writeParquet}).
 */
final class SentenceFiles implements FlatMapFunction<Iterator<BuildTask>, WrittenFile> {
  private static final long serialVersionUID = 1L;
  private final AtlasSource source;
  private final Broadcast<AtlasSubset> subset;
  private final SentencesParams params;
  private final LongAccumulator cellsBuilt;
  private final Broadcast<SerializableConfiguration> conf;
  private final String folder;
  private final String codec;
  private final Map<String, String> footer;

  SentenceFiles(AtlasSource source, Broadcast<AtlasSubset> subset, SentencesParams params, LongAccumulator cellsBuilt,
                Broadcast<SerializableConfiguration> conf, String folder, String codec, Map<String, String> footer) {
    this.source = source;
    this.subset = subset;
    this.params = params;
    this.cellsBuilt = cellsBuilt;
    this.conf = conf;
    this.folder = folder;
    this.codec = codec;
    this.footer = new HashMap<>(footer);
  }

  @Override
  public Iterator<WrittenFile> call(Iterator<BuildTask> tasks) throws IOException {
    TaskContext ctx = TaskContext.get();
    int attempt = ctx == null ? 0 : ctx.attemptNumber();
    Configuration hadoop = conf.value().value();
    List<WrittenFile> out = new ArrayList<>();
    List<String> words = null;
    String extension = SentenceParquetWriter.codecName(codec).getExtension();
    try (SentenceCursor cursor = new SentenceCursor(source, subset.value(), params)) {
      while (tasks.hasNext()) {
        BuildTask task = tasks.next();
        long t0 = System.nanoTime();
        cursor.start(task);
        if (words == null) {
          words = new ArrayList<>(cursor.nGenes());
          for (int g = 0; g < cursor.nGenes(); g++) {
            words.add(cursor.word(g));
          }
        }
        String name = String.format(Locale.ROOT, "part-%05d-attempt-%d%s.parquet", task.partition(), attempt,
            extension);
        Path file = new Path(folder, name);
        boolean done = false;
        SentenceParquetWriter writer = new SentenceParquetWriter(hadoop, file, codec, words, footer);
        try {
          while (cursor.next()) {
            writer.write(cursor);
          }
          writer.close();
          done = true;
        } finally {
          if (!done) {
            file.getFileSystem(hadoop).delete(file, false); // best effort; the driver deletes leftovers too
          }
        }
        SentencesJob.afterRangeFileForTests.accept(TaskContext.get(), task.partition());
        if (cellsBuilt != null) {
          cellsBuilt.add(writer.rows());
        }
        task.logBuilt(writer.rows(), t0);
        out.add(new WrittenFile(task.partition(), name, writer.rows(), cursor.endState()));
      }
    }
    return out.iterator();
  }
}
