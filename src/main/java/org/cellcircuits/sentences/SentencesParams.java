package org.cellcircuits.sentences;

import com.typesafe.config.Config;
import java.io.Serializable;
import java.util.Objects;
import org.cellcircuits.io.ConfigChecks;

/**
 * Settings of the {@code sentences} stage; each is the config key in parentheses under
 * {@code cellcircuits.sentences} (documented again in {@code conf/reference.conf}).
 *
 * @param topK              ({@code top-k}) genes per sentence, >= 1; default 200, what the C2S-Pythia-410m
 *                          cell-type model was trained on. Also the {@code {num_genes}} of the prompt.
 * @param ties              ({@code ties}) {@code c2s} (default; cell2sentence's seeded shuffle, byte-identical to its
 *                          sentences) or {@code gene-order} (ties by ascending gene column)
 * @param seed              ({@code seed}) numpy seed of the c2s tie-break, 0 to 2**32-1; default 42
 *                          (cell2sentence's {@code random_state})
 * @param upperCase         ({@code upper-case}) upper-case gene symbols as cell2sentence does; default true
 * @param dropExplicitZeros ({@code drop-explicit-zeros}) leave genes whose stored count is 0 out of the sentence;
 *                          default false: cell2sentence puts them after every expressed gene (they only show
 *                          in cells with fewer than K expressed genes). They take their tie-break draws either
 *                          way.
 * @param minGenesPerCell   ({@code min-genes-per-cell}) drop cells with fewer expressed (count &gt; 0) genes among
 *                          the kept genes, >= 0; default 0 (keep all)
 * @param minCellsPerGene   ({@code min-cells-per-gene}) drop genes expressed in fewer cells of the whole atlas,
 *                          >= 0; default 0 (keep all). Applied before {@code minGenesPerCell}.
 * @param excludeRiboMito   ({@code exclude-ribo-mito}) drop ribosomal and mitochondrial genes
 *                          ({@link RiboMitoGenes}); default false
 * @param template          ({@code template}) prompt around the sentence; default cell2sentence's cell-type
 *                          template 0 ({@link PromptTemplate#C2S_CELL_TYPE_0})
 * @param organism          ({@code organism}) the prompt's {@code {organism}}, not blank; default
 *                          {@code Homo sapiens}
 * @param cellTypeColumn    ({@code atlas.cell-type-column}) obs column copied to {@code cell_type}; default
 *                          {@code cell_type} (CELLxGENE schema); empty = none (column left null)
 * @param donorColumn       ({@code donor-column}) obs column copied to {@code donor}; default {@code donor_id};
 *                          empty = none
 * @param tissueColumn      ({@code tissue-column}) obs column copied to {@code tissue}; default {@code tissue};
 *                          empty = none
 * @param rowsPerPartition  ({@code rows-per-partition}) cells per Spark task and per output partition, >= 1;
 *                          default 20000
 * @param rowsPerRead       ({@code rows-per-read}) cells a task reads from the atlas at a time, >= 1; default 1024
 *                          (bounds a task's memory: ~2,000 stored entries per cell take ~12 bytes each)
 * @param maxCells          ({@code max-cells}) read only the atlas's first N cells, in file order, >= 0; default 0
 *                          (all). For trial runs on a big atlas: cell2sentence's tie-break of those cells is the
 *                          same as in a full run, because the random draws of a cell depend only on earlier cells.
 */
public record SentencesParams(int topK, TieOrder ties, long seed, boolean upperCase, boolean dropExplicitZeros,
                              int minGenesPerCell, int minCellsPerGene, boolean excludeRiboMito,
                              PromptTemplate template, String organism, String cellTypeColumn,
                              String donorColumn, String tissueColumn, int rowsPerPartition, int rowsPerRead,
                              long maxCells)
    implements Serializable {
  private static final long serialVersionUID = 1L;
  /** The section of the keys that errors name. */
  private static final String KEY = "cellcircuits.sentences.";

  public SentencesParams {
    Objects.requireNonNull(ties, "ties");
    Objects.requireNonNull(template, "template");
    ConfigChecks.atLeast(KEY + "top-k", topK, 1);
    ConfigChecks.between(KEY + "seed", seed, 0, NumpyRandomState.MAX_SEED);
    ConfigChecks.atLeast(KEY + "min-genes-per-cell", minGenesPerCell, 0);
    ConfigChecks.atLeast(KEY + "min-cells-per-gene", minCellsPerGene, 0);
    ConfigChecks.atLeast(KEY + "rows-per-partition", rowsPerPartition, 1);
    ConfigChecks.atLeast(KEY + "rows-per-read", rowsPerRead, 1);
    ConfigChecks.atLeast(KEY + "max-cells", maxCells, 0);
    ConfigChecks.require(organism != null && !organism.isBlank(), KEY + "organism", "'" + organism + "'",
        "a name such as Homo sapiens");
    cellTypeColumn = Objects.requireNonNullElse(cellTypeColumn, "");
    donorColumn = Objects.requireNonNullElse(donorColumn, "");
    tissueColumn = Objects.requireNonNullElse(tissueColumn, "");
  }

  /** Every setting at its default. */
  public static SentencesParams defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().topK(topK).ties(ties).seed(seed).upperCase(upperCase)
        .dropExplicitZeros(dropExplicitZeros).minGenesPerCell(minGenesPerCell).minCellsPerGene(minCellsPerGene)
        .excludeRiboMito(excludeRiboMito).template(template).organism(organism).cellTypeColumn(cellTypeColumn)
        .donorColumn(donorColumn).tissueColumn(tissueColumn).rowsPerPartition(rowsPerPartition)
        .rowsPerRead(rowsPerRead).maxCells(maxCells);
  }

  /** Reads the {@code cellcircuits.sentences} section (keys as in {@code conf/reference.conf}). */
  public static SentencesParams fromConfig(Config sentences) {
    return new Builder()
        .topK(sentences.getInt("top-k"))
        .ties(TieOrder.parse(sentences.getString("ties")))
        .seed(sentences.getLong("seed"))
        .upperCase(sentences.getBoolean("upper-case"))
        .dropExplicitZeros(sentences.getBoolean("drop-explicit-zeros"))
        .minGenesPerCell(sentences.getInt("min-genes-per-cell"))
        .minCellsPerGene(sentences.getInt("min-cells-per-gene"))
        .excludeRiboMito(sentences.getBoolean("exclude-ribo-mito"))
        .template(new PromptTemplate(sentences.getString("template")))
        .organism(sentences.getString("organism"))
        .cellTypeColumn(obsColumn(sentences, "cell-type-column"))
        .donorColumn(obsColumn(sentences, "donor-column"))
        .tissueColumn(obsColumn(sentences, "tissue-column"))
        .rowsPerPartition(sentences.getInt("rows-per-partition"))
        .rowsPerRead(sentences.getInt("rows-per-read"))
        .maxCells(sentences.getLong("max-cells"))
        .build();
  }

  /**
   * The obs column names are declared once, in {@code sentences.atlas} (the reader needs them too); null there means
   * "not read", which the output leaves empty.
   */
  private static String obsColumn(Config sentences, String key) {
    String path = "atlas." + key;
    return !sentences.hasPathOrNull(path) || sentences.getIsNull(path) ? "" : sentences.getString(path);
  }

  /** Settings one at a time, starting from the defaults. */
  public static final class Builder {
    private int topK = 200;
    private TieOrder ties = TieOrder.C2S;
    private long seed = 42;
    private boolean upperCase = true;
    private boolean dropExplicitZeros = false;
    private int minGenesPerCell = 0;
    private int minCellsPerGene = 0;
    private boolean excludeRiboMito = false;
    private PromptTemplate template = PromptTemplate.c2sCellType();
    private String organism = "Homo sapiens";
    private String cellTypeColumn = "cell_type";
    private String donorColumn = "donor_id";
    private String tissueColumn = "tissue";
    private int rowsPerPartition = 20_000;
    private int rowsPerRead = 1024;
    private long maxCells = 0;

    public Builder topK(int v) {
      topK = v;
      return this;
    }

    public Builder ties(TieOrder v) {
      ties = v;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    public Builder upperCase(boolean v) {
      upperCase = v;
      return this;
    }

    public Builder dropExplicitZeros(boolean v) {
      dropExplicitZeros = v;
      return this;
    }

    public Builder minGenesPerCell(int v) {
      minGenesPerCell = v;
      return this;
    }

    public Builder minCellsPerGene(int v) {
      minCellsPerGene = v;
      return this;
    }

    public Builder excludeRiboMito(boolean v) {
      excludeRiboMito = v;
      return this;
    }

    public Builder template(PromptTemplate v) {
      template = v;
      return this;
    }

    public Builder organism(String v) {
      organism = v;
      return this;
    }

    public Builder cellTypeColumn(String v) {
      cellTypeColumn = v;
      return this;
    }

    public Builder donorColumn(String v) {
      donorColumn = v;
      return this;
    }

    public Builder tissueColumn(String v) {
      tissueColumn = v;
      return this;
    }

    public Builder rowsPerPartition(int v) {
      rowsPerPartition = v;
      return this;
    }

    public Builder maxCells(long v) {
      maxCells = v;
      return this;
    }

    public Builder rowsPerRead(int v) {
      rowsPerRead = v;
      return this;
    }

    public SentencesParams build() {
      return new SentencesParams(topK, ties, seed, upperCase, dropExplicitZeros, minGenesPerCell,
          minCellsPerGene, excludeRiboMito, template, organism, cellTypeColumn, donorColumn, tissueColumn,
          rowsPerPartition, rowsPerRead, maxCells);
    }
  }
}
