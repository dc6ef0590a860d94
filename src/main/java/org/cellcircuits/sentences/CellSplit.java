package org.cellcircuits.sentences;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import org.cellcircuits.io.ConfigChecks;

/**
 * Which cells are held out from transcoder training for evaluation: a cell is held out when a seeded 64-bit hash of
 * its id falls below {@code heldOutFraction} of the hash range. The decision needs nothing but the cell id, so every
 * stage (harvest keeps held-out cells out of the training activations, evaluate scores only them) and every executor
 * agrees on it without a shared table, and adding cells to an atlas never moves an existing cell across the split.
 *
 * @param heldOutFraction share of cells held out, in [0, 1)
 * @param seed mixed into the hash; another seed gives another split
 */
public record CellSplit(double heldOutFraction, long seed) implements Serializable {
  private static final long serialVersionUID = 1L;

  public CellSplit {
    ConfigChecks.require(heldOutFraction >= 0 && heldOutFraction < 1, "cellcircuits.split.held-out-fraction",
        heldOutFraction, "a share in [0, 1)");
  }

  /** No cell held out. */
  public static CellSplit none() {
    return new CellSplit(0, 0);
  }

  /** Reads {@code cellcircuits.split}. */
  public static CellSplit fromConfig(Config all) {
    try {
      Config s = all.getConfig("cellcircuits.split");
      return new CellSplit(s.getDouble("held-out-fraction"), s.getLong("seed"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad value in cellcircuits.split: " + e.getMessage(), e);
    }
  }

  /** True when the cell is kept for evaluation and must not be trained on. */
  public boolean isHeldOut(String cellId) {
    if (heldOutFraction == 0) {
      return false;
    }
    // The top 53 bits of a well-mixed hash, as a uniform double in [0, 1).
    return (mix(cellId) >>> 11) * 0x1.0p-53 < heldOutFraction;
  }

  /** FNV-1a over the id's UTF-8 bytes, then SplitMix64's finaliser with the seed, so nearby ids spread evenly. */
  long mix(String cellId) {
    long h = 0xcbf29ce484222325L;
    for (byte b : cellId.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    long z = h + seed * 0x9e3779b97f4a7c15L;
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** For logs: {@code 10% of cells (seed 42)}. */
  public String describe() {
    return String.format(java.util.Locale.ROOT, "%s%% of cells (seed %d)", 100 * heldOutFraction, seed);
  }
}
