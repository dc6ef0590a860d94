package org.cellcircuits.sentences;

import java.util.List;
import java.util.Locale;

/**
 * The ribosomal and mitochondrial genes that {@code sentences.exclude-ribo-mito} removes, by symbol prefix,
 * case-insensitively (so mouse {@code mt-Co1} and {@code Rpl3} are caught as well as human {@code MT-CO1}):
 * <ul>
 *   <li>{@code RPL}, {@code RPS}: cytosolic ribosomal proteins (incl. {@code RPLP0..2}, {@code RPSA});
 *   <li>{@code MRPL}, {@code MRPS}: mitochondrial ribosomal proteins;
 *   <li>{@code MT-}: genes of the mitochondrial genome.
 * </ul>
 * This is the prefix convention of common scanpy QC recipes. It also catches the few non-ribosomal genes whose
 * symbols start the same way (the {@code RPS6KA*}/{@code RPS6KB*}/{@code RPS6KC1}/{@code RPS6KL1} kinases,
 * {@code RPL22L1}, {@code RPL3L}...), as those recipes do; {@code MTOR}, {@code MT2A} and other {@code MT}
 * genes without the hyphen are kept.
 */
public final class RiboMitoGenes {
  /** The symbol prefixes, upper case. */
  public static final List<String> PREFIXES = List.of("RPL", "RPS", "MRPL", "MRPS", "MT-");

  private RiboMitoGenes() {
  }

  public static boolean matches(String geneSymbol) {
    String upper = geneSymbol.toUpperCase(Locale.ROOT);
    for (String prefix : PREFIXES) {
      if (upper.startsWith(prefix)) {
        return true;
      }
    }
    return false;
  }
}
