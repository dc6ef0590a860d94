package org.cellcircuits.harvest;

import ai.djl.Device;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.StageCommitter;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.io.StageSpec;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.NeoXConfig;

/** Tiny random models with the demo tokenizer, and sentences tables committed as the sentences stage would. */
public final class HarvestFixtures {
  private HarvestFixtures() {}

  /** The demo's byte-level BPE (2,000 ids). */
  public static final Path DEMO_TOKENIZER = Path.of("demo/model/tokenizer.json");

  /** d_model 32, 4 heads, 3 layers, d_mlp 128, vocabulary 2,000 (the demo tokenizer's). */
  public static final NeoXConfig TINY = new NeoXConfig(32, 4, 3, 128, 0.25, 10000, true, 1e-5, 2000, 1024, false, true, 0);

  /** C2S cell-type template 0, character for character. */
  public static final String TEMPLATE = "The following is a list of %d gene names ordered by descending expression level in "
      + "a Homo sapiens cell. Your task is to give the cell type which this cell belongs to based on its gene "
      + "expression.\nCell sentence: %s.\nThe cell type corresponding to these genes is:";

  public static final List<String> GENE_POOL = List.of("MYH7", "MYL2", "FHL2", "MYL3", "VWF", "PECAM1", "CDH5", "KDR", "DCN",
      "LUM", "COL1A2", "PDGFRA", "FBLN1", "GSN", "NPPA", "MYL7", "ACTA2", "RGS5", "PTPRC", "CD3E", "KIT", "TPSAB1",
      "ADIPOQ", "PLIN1", "MSLN", "UPK3B", "PROX1", "LYVE1", "TTN", "RYR2", "HBB", "MALAT1", "CD74", "B2M", "IGKC");

  public static final List<String> CELL_TYPES = List.of("endothelial cell", "fibroblast", "mast cell",
      "ventricular cardiomyocyte");

  /** Saves a random model as a checkpoint folder with the demo tokenizer beside it. */
  public static Path model(Path dir, NeoXConfig config, long seed) throws IOException {
    return model(dir, config, seed, m -> {});
  }

  /** As {@link #model(Path, NeoXConfig, long)}, with the weights changed by {@code edit} before saving. */
  public static Path model(Path dir, NeoXConfig config, long seed, Consumer<GptNeoX> edit) throws IOException {
    Files.createDirectories(dir);
    try (GptNeoX model = GptNeoX.initialize(config, Device.cpu(), seed)) {
      edit.accept(model);
      model.save(dir, SafetensorsDType.F32);
    }
    Files.copy(DEMO_TOKENIZER, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
    return dir;
  }

  /** Cells with 3..12 genes from the pool, cyclic cell types; cell ids {@code cell-000}... */
  public static List<CellPrompt> cells(int n, long seed) {
    Random random = new Random(seed);
    List<CellPrompt> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      List<String> pool = new ArrayList<>(GENE_POOL);
      java.util.Collections.shuffle(pool, random);
      List<String> genes = pool.subList(0, 3 + random.nextInt(10));
      String prompt = String.format(TEMPLATE, 12, String.join(" ", genes));
      out.add(new CellPrompt(String.format("cell-%03d", i), CELL_TYPES.get(i % CELL_TYPES.size()), genes, prompt));
    }
    return out;
  }

  /** The sentences stage's schema. */
  static final StructType SENTENCES = new StructType(new StructField[] {
      DataTypes.createStructField("cell_id", DataTypes.StringType, false),
      DataTypes.createStructField("cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("donor", DataTypes.StringType, true),
      DataTypes.createStructField("tissue", DataTypes.StringType, true),
      DataTypes.createStructField("genes", DataTypes.createArrayType(DataTypes.StringType), false),
      DataTypes.createStructField("sentence", DataTypes.StringType, false),
      DataTypes.createStructField("prompt", DataTypes.StringType, false),
      DataTypes.createStructField("n_expressed", DataTypes.IntegerType, false)});

  static List<Row> rows(List<CellPrompt> cells) {
    List<Row> rows = new ArrayList<>();
    for (CellPrompt c : cells) {
      rows.add(RowFactory.create(c.cellId(), c.cellType(), "donor-1", "heart", c.genes().toArray(new String[0]),
          String.join(" ", c.genes()), c.prompt(), c.genes().size()));
    }
    return rows;
  }

  /** Writes the cells as the sentences stage's table and commits it under the root. */
  public static void commitSentences(SparkSession spark, RunRoot root, List<CellPrompt> cells) throws Exception {
    commitSentences(spark, root, rows(cells), SENTENCES);
  }

  public static void commitSentences(SparkSession spark, RunRoot root, List<Row> rows, StructType schema) throws Exception {
    StageSpec spec = new StageSpec("sentences",
        ConfigFactory.parseString("sentences.fixture = " + rows.hashCode()), Map.of());
    StageCommitter.run(root, spec, true, attemptDir -> {
      spark.createDataFrame(rows, schema).repartition(2).write().parquet(attemptDir + "/sentences");
      return StageResult.of(Map.of("sentences", (long) rows.size()));
    });
  }

  /** The full config of a harvest run: reference defaults plus these {@code key=value} overrides. */
  public static Config config(String root, Path model, String... overrides) {
    // Most harvest tests count stored rows per cell: they hold out nothing unless they say so.
    List<String> all = new ArrayList<>(List.of("run.root=" + root, "model.path=" + model,
        "split.held-out-fraction=0"));
    all.addAll(Arrays.asList(overrides));
    return ConfigLoader.load(null, all);
  }
}
