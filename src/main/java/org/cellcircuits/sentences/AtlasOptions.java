package org.cellcircuits.sentences;

import com.typesafe.config.Config;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.cellcircuits.io.ConfigChecks;

/**
 * How to read an atlas: where the gene symbols are, which matrix, which cell annotations.
 *
 * <p>Obs columns that are set (non-null) must exist in the atlas, otherwise opening it fails with the list of
 * columns that do exist; set one to null to not read it. The defaults are the CELLxGENE schema's names.
 *
 * @param geneSymbolColumn a var column holding the gene symbols (e.g. {@code feature_name}); null = the var index
 *                         for h5ad, the symbol column (2nd) of features.tsv for 10x, {@code gene} for Parquet.
 *                         For 10x folders the names are scanpy's: {@code gene_symbols}, {@code gene_ids},
 *                         {@code feature_types}.
 * @param useRaw           read {@code raw/X} with {@code raw/var} instead of {@code X} with {@code var} (h5ad only)
 * @param cellTypeColumn   obs column with the cell type (null = none)
 * @param donorColumn      obs column with the donor (null = none)
 * @param tissueColumn     obs column with the tissue (null = none)
 * @param obsCsv           10x only: a CSV of cell annotations (header row, first column = barcode); null = the
 *                         folder's {@code obs.csv} if there is one
 * @param remoteAccess     how an h5ad on a non-local file system (s3a://, hdfs://) is read, see {@link RemoteAccess}
 * @param hadoopConf       extra Hadoop settings for opening the files (e.g. {@code fs.s3a.endpoint}); executors
 *                         start from Spark's Hadoop configuration and apply these on top
 */
public record AtlasOptions(String geneSymbolColumn, boolean useRaw, String cellTypeColumn, String donorColumn,
                           String tissueColumn, String obsCsv, RemoteAccess remoteAccess,
                           Map<String, String> hadoopConf) implements Serializable {

  /** How a task reads an .h5ad that is not on a local disk. */
  public enum RemoteAccess {
    /**
     * Copy the file once per executor JVM into a local temp folder (through the Hadoop FileSystem) and let every
     * task of that JVM open the copy. One sequential read per executor; needs local disk the size of the file.
     */
    STAGE,
    /**
     * Read byte ranges straight from the remote file (positioned reads through the Hadoop FileSystem). No local
     * disk, but every HDF5 metadata lookup and slice is a separate remote read.
     */
    RANGE;

    /** The value of {@code cellcircuits.sentences.atlas.remote-access}: {@code stage} or {@code range}. */
    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  public AtlasOptions {
    geneSymbolColumn = checkName("gene symbol column", geneSymbolColumn);
    cellTypeColumn = checkName("cell type column", cellTypeColumn);
    donorColumn = checkName("donor column", donorColumn);
    tissueColumn = checkName("tissue column", tissueColumn);
    obsCsv = checkName("obs CSV", obsCsv);
    ConfigChecks.require(remoteAccess != null, "remote access", null, "one of STAGE, RANGE");
    hadoopConf = Map.copyOf(hadoopConf == null ? Map.of() : new TreeMap<>(hadoopConf));
  }

  /** CELLxGENE names: cell_type, donor_id, tissue; gene symbols from the var index; X; staged remote copies. */
  public static AtlasOptions defaults() {
    return new AtlasOptions(null, false, "cell_type", "donor_id", "tissue", null, RemoteAccess.STAGE, Map.of());
  }

  /**
   * From the {@code sentences.atlas} config section: {@code gene-symbol-column}, {@code use-raw},
   * {@code cell-type-column}, {@code donor-column}, {@code tissue-column}, {@code obs-csv},
   * {@code remote-access} (stage | range). A key that is absent keeps its default; a key set to null clears it.
   */
  public static AtlasOptions fromConfig(Config atlas) {
    AtlasOptions d = defaults();
    RemoteAccess access = atlas.hasPathOrNull("remote-access")
        ? ConfigChecks.oneOf("cellcircuits.sentences.atlas.remote-access", string(atlas, "remote-access", null),
            RemoteAccess.values(), RemoteAccess::configName)
        : d.remoteAccess;
    return new AtlasOptions(
        string(atlas, "gene-symbol-column", d.geneSymbolColumn),
        atlas.hasPath("use-raw") ? atlas.getBoolean("use-raw") : d.useRaw,
        string(atlas, "cell-type-column", d.cellTypeColumn),
        string(atlas, "donor-column", d.donorColumn),
        string(atlas, "tissue-column", d.tissueColumn),
        string(atlas, "obs-csv", d.obsCsv),
        access,
        Map.of());
  }

  public AtlasOptions withGeneSymbolColumn(String column) {
    return new AtlasOptions(column, useRaw, cellTypeColumn, donorColumn, tissueColumn, obsCsv, remoteAccess,
        hadoopConf);
  }

  public AtlasOptions withUseRaw(boolean raw) {
    return new AtlasOptions(geneSymbolColumn, raw, cellTypeColumn, donorColumn, tissueColumn, obsCsv, remoteAccess,
        hadoopConf);
  }

  public AtlasOptions withObsColumns(String cellType, String donor, String tissue) {
    return new AtlasOptions(geneSymbolColumn, useRaw, cellType, donor, tissue, obsCsv, remoteAccess, hadoopConf);
  }

  public AtlasOptions withObsCsv(String path) {
    return new AtlasOptions(geneSymbolColumn, useRaw, cellTypeColumn, donorColumn, tissueColumn, path, remoteAccess,
        hadoopConf);
  }

  public AtlasOptions withRemoteAccess(RemoteAccess access) {
    return new AtlasOptions(geneSymbolColumn, useRaw, cellTypeColumn, donorColumn, tissueColumn, obsCsv, access,
        hadoopConf);
  }

  public AtlasOptions withHadoopConf(Map<String, String> conf) {
    return new AtlasOptions(geneSymbolColumn, useRaw, cellTypeColumn, donorColumn, tissueColumn, obsCsv, remoteAccess,
        conf);
  }

  /** The obs columns to read, in the order cell type, donor, tissue, skipping those not set. */
  public List<String> obsColumns() {
    List<String> out = new ArrayList<>(3);
    for (String c : new String[] {cellTypeColumn, donorColumn, tissueColumn}) {
      if (c != null && !out.contains(c)) {
        out.add(c);
      }
    }
    return List.copyOf(out);
  }

  private static String checkName(String what, String value) {
    if (value != null && value.isBlank()) {
      throw new IllegalArgumentException(String.format("%s is invalid: '%s'; expected a name or null", what, value));
    }
    return value;
  }

  private static String string(Config c, String key, String fallback) {
    if (!c.hasPathOrNull(key)) {
      return fallback;
    }
    return c.getIsNull(key) ? null : c.getString(key);
  }
}
