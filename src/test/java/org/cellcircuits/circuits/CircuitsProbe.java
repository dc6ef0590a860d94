package org.cellcircuits.circuits;

import ai.djl.Device;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.harvest.CellPrompt;
import org.cellcircuits.harvest.ExecutorModels;
import org.cellcircuits.model.TokenizedPrompt;
import org.cellcircuits.transcoder.Transcoder;

/** Scratch probe: circuits of a few demo cells per type from a finished demo run. args: runRoot perType budget. */
public final class CircuitsProbe {
  public static void main(String[] args) throws Exception {
    String root = args[0];
    int perType = Integer.parseInt(args[1]);
    int budget = Integer.parseInt(args[2]);
    SparkSession spark = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false").getOrCreate();
    String sentences = Files.list(Path.of(root, "sentences")).filter(p -> p.getFileName().toString().startsWith("attempt"))
        .findFirst().orElseThrow().resolve("sentences").toString();
    Path train = Files.list(Path.of(root, "train")).filter(p -> p.getFileName().toString().startsWith("attempt"))
        .findFirst().orElseThrow().resolve("transcoders");
    List<Row> rows = spark.read().parquet(sentences).select("cell_id", "cell_type", "genes", "prompt").collectAsList();
    spark.stop();
    Map<String, List<Row>> byType = new TreeMap<>();
    for (Row r : rows) {
      List<Row> l = byType.computeIfAbsent(r.getString(1), k -> new ArrayList<>());
      if (l.size() < perType) {
        l.add(r);
      }
    }
    Map<String, List<String>> markers = new HashMap<>();
    for (String line : Files.readAllLines(Path.of("demo/markers.tsv")).subList(1, Files.readAllLines(Path.of("demo/markers.tsv")).size())) {
      String[] f = line.split("\t");
      markers.computeIfAbsent(f[0], k -> new ArrayList<>()).add(f[1]);
    }
    ExecutorModels.Loaded loaded = ExecutorModels.get("demo/model", "cpu", "fp32", 2, new org.apache.hadoop.conf.Configuration());
    Map<Integer, Transcoder> tcs = new TreeMap<>();
    for (int l = 0; l < 4; l++) {
      tcs.put(l, Transcoder.load(train.resolve("layer=" + l), Device.cpu()));
    }
    ReplacementWeights w = new ReplacementWeights(loaded.model(), tcs);
    CircuitSettings settings = new CircuitSettings(new Attribution.Options(budget, 64, 4), PruneMethod.INFLUENCE, 0.8,
        0.98, 3, 1024, 10);
    CircuitExtractor ex = new CircuitExtractor(loaded.model(), w, settings, 17);
    int agree = 0;
    int n = 0;
    for (Map.Entry<String, List<Row>> e : byType.entrySet()) {
      Map<String, Double> geneTotals = new LinkedHashMap<>();
      for (Row r : e.getValue()) {
        CellPrompt cp = new CellPrompt(r.getString(0), r.getString(1), r.getList(2), r.getString(3));
        TokenizedPrompt tp = loaded.encode(cp);
        long t0 = System.nanoTime();
        try (var c = loaded.model().run(loaded.model().manager(), org.cellcircuits.model.TokenBatch.rightPadded(List.of(tp.ids()), 0),
            org.cellcircuits.model.ForwardOptions.logitsOnly())) {
          c.logits();
        }
        double fwd = (System.nanoTime() - t0) / 1e9;
        CellCircuit cc = ex.extract(cp.cellId(), cp.cellType(), tp, logits -> {
          int best = 0;
          for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
              best = i;
            }
          }
          return OutputTarget.logit(best, "argmax " + best);
        });
        n++;
        agree += cc.ablation().agrees() ? 1 : 0;
        for (int p = 0; p < tp.length(); p++) {
          String gene = tp.gene(p);
          if (gene != null) {
            geneTotals.merge(gene, cc.attribution()[cc.graph().tokenIndex(p)], Double::sum);
          }
        }
        System.out.printf(Locale.ROOT, "%s %s T=%d active=%d rows=%d value=%.3f kept=%d edges=%d repl=%.3f compl=%.3f err=%.3f top=%.3f rand=%.3f graph=%.3fs fwd=%.4fs%n",
            cp.cellId(), cp.cellType(), tp.length(), cc.activeFeatures(), cc.rowsComputed(), cc.graph().targetValue(),
            cc.pruned().keptNodeCount(), cc.pruned().keptEdgeCount(), cc.scores().replacement(), cc.scores().completeness(),
            cc.scores().errorShare(), cc.ablation().topDrop(), cc.ablation().randomDrop(), cc.seconds(), fwd);
      }
      List<String> top = geneTotals.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
          .limit(10).map(Map.Entry::getKey).toList();
      long hits = top.stream().filter(g -> markers.getOrDefault(e.getKey(), List.of()).contains(g)).count();
      System.out.printf("TYPE %s hits=%d top=%s%n", e.getKey(), hits, top);
    }
    System.out.printf("agreement %d / %d%n", agree, n);
  }
}
