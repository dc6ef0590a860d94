package org.cellcircuits.sentences;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Turns one cell's stored (gene column, count) entries into its cell2sentence sentence.
 *
 * <p>What cell2sentence does ({@code utils.generate_vocabulary} then {@code generate_sentences}, which
 * {@code CSData.adata_to_arrow} calls in that order), and so what this class reproduces byte for byte:
 * <ol>
 *   <li>The rows are canonical CSR: {@code generate_vocabulary} evaluates {@code adata.X > 0}, and scipy runs
 *       {@code sum_duplicates()} in place on a sparse X first, which sorts every row's columns. Explicit zeros
 *       stay stored. So rows stored out of column order are sorted here first. A row that stores one gene twice
 *       is rejected: scipy would sum the two, which changes the number of draws that every later cell's
 *       tie-break depends on, and the parallel pre-pass counts stored entries before reading them.
 *   <li>{@code sklearn.utils.shuffle(cols, vals)} with the global RandomState: {@code np.arange(n)} shuffled by
 *       the legacy shuffle, n = the row's stored entries (explicit zeros included).
 *   <li>{@code np.argsort(-vals, kind="stable")}: descending value, ties in shuffled order.
 *   <li>The sentence holds every stored entry, so an explicitly stored zero <em>does</em> appear, after all the
 *       expressed genes (cell2sentence never removes them; implicit zeros never appear). With
 *       {@code dropExplicitZeros} they are left out instead; they take their draws either way.
 *   <li>Words are {@code var_names} upper-cased ({@code generate_vocabulary}); the prompt formatter keeps the
 *       first K words ({@code sentence.split(" ")[:K]}).
 * </ol>
 * Only the first K of that order are built, by selection rather than a full sort of the row: when every value
 * is exactly a float (see {@code pickTopKByKey}) one unique long per entry orders it, and the K smallest longs
 * are selected and sorted; otherwise the K-th largest value is selected and the K picked are sorted stably
 * (see {@link #build}). Both give exactly the first K of the full stable sort ({@code RankingPropertyTest}).
 *
 * <p>In {@link TieOrder#GENE_ORDER} mode the order is descending value, ties by ascending gene column, and no
 * draws are taken. Scratch arrays are reused between cells: one builder per thread.
 */
public final class CellSentenceBuilder {
  private static final int INSERTION_RUN = 24;
  /** Rows with fewer candidates are ranked by one quickselect over all of them. */
  private static final int PREFILTER_MIN_CANDIDATES = 1024;
  /** Keys sampled to bound the k-th smallest key (see samplingBound). */
  private static final int PREFILTER_SAMPLE = 128;

  private final String atlas;
  private final List<String> geneSymbols;
  private final String[] words;
  private final AtlasSubset subset;
  private final int topK;
  private final TieOrder ties;
  private final boolean dropExplicitZeros;

  /** Every word's UTF-8 bytes back to back, word g at [wordOffsets[g], wordOffsets[g + 1]). */
  private final byte[] wordBytes;
  private final int[] wordOffsets;
  private int expressed;

  private int[] cols = new int[0];
  private double[] vals = new double[0];
  private int[] order = new int[0];
  private double[] selectScratch = new double[0];
  private long[] sortKeys = new long[0];
  private int[] picked = new int[0];
  private int[] mergeScratch = new int[0];
  private final long[] sampleKeys = new long[PREFILTER_SAMPLE];

  /**
   * @param meta              the atlas (gene symbols and its name for error messages)
   * @param subset            genes and cells kept
   * @param topK              genes per sentence (>= 1)
   * @param ties              tie order
   * @param upperCase         upper-case symbols as cell2sentence does
   * @param dropExplicitZeros leave explicitly stored zeros out of the sentence (cell2sentence keeps them last)
   */
  public CellSentenceBuilder(AtlasMeta meta, AtlasSubset subset, int topK, TieOrder ties, boolean upperCase,
                             boolean dropExplicitZeros) {
    Objects.requireNonNull(meta, "meta");
    Objects.requireNonNull(subset, "subset");
    Objects.requireNonNull(ties, "ties");
    if (topK < 1) {
      throw new IllegalArgumentException(String.format("topK is invalid: %d; need >= 1", topK));
    }
    if (subset.nGenes() != meta.nGenes()) {
      throw new IllegalArgumentException(String.format("atlas %s has %d genes; the subset was made for %d",
          meta.source(), meta.nGenes(), subset.nGenes()));
    }
    this.atlas = meta.source();
    this.geneSymbols = meta.geneSymbols();
    this.words = new String[geneSymbols.size()];
    for (int g = 0; g < words.length; g++) {
      String s = geneSymbols.get(g);
      words[g] = upperCase ? s.toUpperCase(Locale.ROOT) : s;
    }
    this.wordOffsets = new int[words.length + 1];
    byte[][] utf8 = new byte[words.length][];
    for (int g = 0; g < words.length; g++) {
      utf8[g] = words[g].getBytes(StandardCharsets.UTF_8);
      wordOffsets[g + 1] = wordOffsets[g] + utf8[g].length;
    }
    this.wordBytes = new byte[wordOffsets[words.length]];
    for (int g = 0; g < words.length; g++) {
      System.arraycopy(utf8[g], 0, wordBytes, wordOffsets[g], utf8[g].length);
    }
    this.subset = subset;
    this.topK = topK;
    this.ties = ties;
    this.dropExplicitZeros = dropExplicitZeros;
  }

  /** The builder the {@code sentences} stage uses for {@code params}. */
  public static CellSentenceBuilder of(AtlasMeta meta, AtlasSubset subset, SentencesParams params) {
    return new CellSentenceBuilder(meta, subset, params.topK(), params.ties(), params.upperCase(),
        params.dropExplicitZeros());
  }

  public int topK() {
    return topK;
  }

  /**
   * Builds the sentence of the cell stored in {@code indices/values[from, to)}.
   *
   * <p>In c2s mode this takes exactly the draws cell2sentence takes for the cell from {@code rng} (the shuffle
   * of its stored kept entries), so cells must come in atlas order through one generator; in gene-order mode
   * {@code rng} is not used and may be null.
   *
   * <p>Why the selection equals the full sort: the full stable order sorts entries by the key (-value, shuffled
   * position). Let t be the K-th largest candidate value. Its first K entries are all g entries with value
   * &gt; t (g &lt; K, as t is the K-th largest) followed by the K-g entries with value == t of smallest shuffled
   * position. Scanning positions in order and taking every value &gt; t plus the first K-g values == t picks
   * exactly that set; sorting it stably by descending value (ties keep scan order) gives that order. On the
   * long-key path the key (inverted float bits above the position) orders entries exactly as (-value,
   * position) and no two keys are equal, so the K smallest keys, sorted, are that same first K.
   *
   * @return the sentence, or null when the subset drops the cell (it then takes no draws)
   */
  public CellSentence build(String cellId, int[] indices, double[] values, int from, int to,
                            NumpyRandomState rng) {
    int n = rank(cellId, indices, values, from, to, rng);
    if (n < 0) {
      return null;
    }
    String[] genes = new String[n];
    for (int i = 0; i < n; i++) {
      genes[i] = words[cols[picked[i]]];
    }
    String sentence = new String(sentenceUtf8(n), StandardCharsets.UTF_8);
    return new CellSentence(Arrays.asList(genes), sentence, expressed);
  }

  /**
   * {@link #build} without making objects, for the Spark stage: ranks the cell into this builder's buffers and
   * returns how many genes its sentence has, or -1 when the subset drops the cell (no draws taken then). Read
   * the result with {@link #rankedColumn}, {@link #expressedGenes} and {@link #sentenceUtf8} before the next
   * cell.
   */
  public int rank(String cellId, int[] indices, double[] values, int from, int to, NumpyRandomState rng) {
    int stored = to - from;
    ensureCapacity(stored);
    int m = 0;
    int nonZero = 0;
    boolean ascending = true;
    boolean floatExact = true;
    int previous = -1;
    for (int k = from; k < to; k++) {
      int c = indices[k];
      double v = values[k];
      AtlasSubset.checkEntry(atlas, cellId, geneSymbols, c, v);
      if (!subset.keepsGene(c)) {
        continue;
      }
      ascending &= c > previous;
      previous = c;
      cols[m] = c;
      vals[m] = v + 0.0; // -0.0 becomes 0.0: one zero for comparisons and for the bit order of sort keys
      m++;
      floatExact &= (double) (float) v == v;
      if (v > 0) {
        nonZero++;
      }
    }
    if (nonZero < subset.minGenesPerCell()) {
      return -1;
    }
    if (!ascending) {
      sortByColumn(cellId, m);
    }

    // order[p] = the entry at position p of the shuffled (c2s) or column-ordered (gene-order) sequence.
    for (int p = 0; p < m; p++) {
      order[p] = p;
    }
    if (ties == TieOrder.C2S) {
      Objects.requireNonNull(rng, "rng is needed for ties = c2s");
      rng.shuffle(order, m);
    }

    int candidates = dropExplicitZeros ? nonZero : m;
    int k = Math.min(topK, candidates);
    int n;
    if (floatExact) {
      n = pickTopKByKey(m, candidates, k);
    } else {
      if (k == candidates) {
        n = 0;
        for (int p = 0; p < m; p++) {
          int e = order[p];
          if (!dropExplicitZeros || vals[e] > 0) {
            picked[n++] = e;
          }
        }
      } else {
        n = pickTopK(m, candidates, k);
      }
      sortByValueDescending(n);
    }

    expressed = nonZero;
    return n;
  }

  /** Gene column of the i-th word of the last ranked cell's sentence. */
  public int rankedColumn(int i) {
    return cols[picked[i]];
  }

  /** Kept genes with a count &gt; 0 in the last ranked cell (all of them, not only the top K). */
  public int expressedGenes() {
    return expressed;
  }

  /** The word each gene column is written as (upper-cased or not). */
  public String word(int column) {
    return words[column];
  }

  /**
   * The last ranked cell's first n words joined by single spaces, as UTF-8 (a new array). The bytes come from
   * one contiguous copy of every word: touching n String objects scattered over the heap per cell cost more than
   * the rest of the sentence (measured).
   */
  public byte[] sentenceUtf8(int n) {
    int length = Math.max(0, n - 1);
    for (int i = 0; i < n; i++) {
      int c = cols[picked[i]];
      length += wordOffsets[c + 1] - wordOffsets[c];
    }
    byte[] out = new byte[length];
    int at = 0;
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        out[at++] = ' ';
      }
      int c = cols[picked[i]];
      int from = wordOffsets[c];
      int len = wordOffsets[c + 1] - from;
      System.arraycopy(wordBytes, from, out, at, len);
      at += len;
    }
    return out;
  }

  /**
   * The first k of the order (-value, position) when every value is exactly a float (float32 matrices and
   * integer counts below 2^24, i.e. nearly every atlas): the order is then that of one long per entry, the
   * value's float bits inverted above the position, which are unique; select the k smallest longs and sort
   * those. Leaves the k entries in picked[0, k) in sentence order.
   */
  private int pickTopKByKey(int m, int candidates, int k) {
    long[] keys = sortKeys;
    int kept = -1;
    if (candidates >= PREFILTER_MIN_CANDIDATES && (long) k * 4 <= candidates) {
      kept = keysAtMost(m, samplingBound(m, k));
    }
    if (kept < k) {
      // No prefilter, or the sampled bound was too low (rare): every candidate's key.
      kept = keysAtMost(m, Long.MAX_VALUE);
    }
    if (k < kept) {
      kthSmallest(keys, kept, k - 1); // leaves the k smallest in keys[0, k)
    }
    Arrays.sort(keys, 0, k);
    for (int i = 0; i < k; i++) {
      picked[i] = order[(int) keys[i]];
    }
    return k;
  }

  /**
   * Writes the key of every candidate entry whose key is at most {@code bound} into keys[0, n), in position
   * order, and returns n. Branch-free: each key is stored at the next free slot, which advances only when the key
   * is kept.
   */
  private int keysAtMost(int m, long bound) {
    long[] keys = sortKeys;
    int n = 0;
    // A dropped zero's key is the largest of all; a bound below it keeps zeros out in the same comparison.
    long limit = dropExplicitZeros ? Math.min(bound, key(0.0, 0) - 1) : bound;
    for (int p = 0; p < m; p++) {
      long key = key(vals[order[p]], p);
      keys[n] = key;
      n += (int) ((key - limit - 1) >>> 63); // 1 when key <= limit (keys and limits are >= 0)
    }
    return n;
  }

  /** Orders entries as (-value, position) for a value that is exactly a float; unique per position. */
  private static long key(double value, int position) {
    // Non-negative float bits grow with the value: 0x7fffffff - bits grows as the value falls.
    return ((long) (0x7fffffff - Float.floatToRawIntBits((float) value)) << 32) | position;
  }

  /**
   * A key that, with high probability, at least k candidates' keys are at most, and not many more: an order
   * statistic of the keys of PREFILTER_SAMPLE positions spread over the row (Floyd and Rivest's selection). Then
   * the quickselect runs over a few hundred keys instead of every stored entry. In c2s mode the positions are
   * shuffled, so the sample is a random one; a bound that turns out too low is caught by the caller, which then
   * takes every key, so the result never depends on the sample.
   */
  private long samplingBound(int m, int k) {
    long[] sample = sampleKeys;
    for (int i = 0; i < PREFILTER_SAMPLE; i++) {
      int p = (int) ((long) i * m / PREFILTER_SAMPLE);
      double v = vals[order[p]];
      sample[i] = !dropExplicitZeros || v > 0 ? key(v, p) : Long.MAX_VALUE;
    }
    // The k smallest keys of the m entries are candidates (a dropped zero's key is never among them): about
    // q = k/m of the sample falls below the k-th. Three standard deviations above that, plus one, misses it
    // rarely (~0.1%, when k << m).
    double q = (double) k / m;
    double expected = PREFILTER_SAMPLE * q;
    int rank = (int) Math.min(PREFILTER_SAMPLE - 1,
        Math.ceil(expected + 3 * Math.sqrt(expected * (1 - q)) + 1));
    return kthSmallest(sample, PREFILTER_SAMPLE, rank);
  }

  /** Picks the first k candidates of the order (-value, position) into picked[0, k), in position order. */
  private int pickTopK(int m, int candidates, int k) {
    int c = 0;
    for (int e = 0; e < m; e++) {
      if (!dropExplicitZeros || vals[e] > 0) {
        selectScratch[c++] = vals[e];
      }
    }
    double threshold = kthSmallest(selectScratch, candidates, candidates - k);
    int above = 0;
    for (int i = 0; i < candidates; i++) {
      if (selectScratch[i] > threshold) {
        above++;
      }
    }
    int tiesLeft = k - above;
    int n = 0;
    for (int p = 0; p < m && n < k; p++) {
      int e = order[p];
      double v = vals[e];
      if (v > threshold) {
        picked[n++] = e;
      } else if (v == threshold && tiesLeft > 0 && (!dropExplicitZeros || v > 0)) {
        picked[n++] = e;
        tiesLeft--;
      }
    }
    return n;
  }

  /**
   * Quickselect: the value of rank r (0-based, ascending) of a[0, n); reorders a. Partitions are branch-free
   * (always swap, advance on a comparison), which beats a branchy Hoare partition several times on random data.
   * Each round splits [lo, hi) at a pivot x taken from the range into &lt; x and &gt;= x, and, when r lies in the
   * upper part, that part again into == x and &gt; x; the == x block holds x itself, so every round shrinks the
   * range, however many ties there are.
   */
  static double kthSmallest(double[] a, int n, int r) {
    int lo = 0;
    int hi = n;
    while (hi - lo > 16) {
      double x = medianOf3(a[lo], a[(lo + hi) >>> 1], a[hi - 1]);
      int below = lo;
      for (int i = lo; i < hi; i++) {
        double v = a[i];
        a[i] = a[below];
        a[below] = v;
        below += v < x ? 1 : 0;
      }
      if (r < below) {
        hi = below;
        continue;
      }
      int atMost = below;
      for (int i = below; i < hi; i++) {
        double v = a[i];
        a[i] = a[atMost];
        a[atMost] = v;
        atMost += v <= x ? 1 : 0;
      }
      if (r < atMost) {
        return x;
      }
      lo = atMost;
    }
    for (int i = lo + 1; i < hi; i++) {
      double v = a[i];
      int j = i - 1;
      while (j >= lo && a[j] > v) {
        a[j + 1] = a[j];
        j--;
      }
      a[j + 1] = v;
    }
    return a[r];
  }

  /** {@link #kthSmallest(double[], int, int)} for longs; also leaves a[0, r] holding the r+1 smallest. */
  static long kthSmallest(long[] a, int n, int r) {
    int lo = 0;
    int hi = n;
    while (hi - lo > 16) {
      long x = medianOf3(a[lo], a[(lo + hi) >>> 1], a[hi - 1]);
      int below = lo;
      for (int i = lo; i < hi; i++) {
        long v = a[i];
        a[i] = a[below];
        a[below] = v;
        below += v < x ? 1 : 0;
      }
      if (r < below) {
        hi = below;
        continue;
      }
      int atMost = below;
      for (int i = below; i < hi; i++) {
        long v = a[i];
        a[i] = a[atMost];
        a[atMost] = v;
        atMost += v <= x ? 1 : 0;
      }
      if (r < atMost) {
        return x;
      }
      lo = atMost;
    }
    Arrays.sort(a, lo, hi);
    return a[r];
  }

  private static long medianOf3(long a, long b, long c) {
    return a < b ? (b < c ? b : Math.max(a, c)) : (a < c ? a : Math.max(b, c));
  }

  private static double medianOf3(double a, double b, double c) {
    return a < b ? (b < c ? b : Math.max(a, c)) : (a < c ? a : Math.max(b, c));
  }

  /** Stable sort of picked[0, n) by descending value: insertion-sorted runs, then bottom-up merges. */
  private void sortByValueDescending(int n) {
    int[] a = picked;
    for (int start = 0; start < n; start += INSERTION_RUN) {
      int end = Math.min(n, start + INSERTION_RUN);
      for (int i = start + 1; i < end; i++) {
        int e = a[i];
        double v = vals[e];
        int j = i - 1;
        while (j >= start && vals[a[j]] < v) {
          a[j + 1] = a[j];
          j--;
        }
        a[j + 1] = e;
      }
    }
    int[] src = a;
    int[] dst = mergeScratch;
    for (int width = INSERTION_RUN; width < n; width *= 2) {
      for (int lo = 0; lo < n; lo += 2 * width) {
        int mid = Math.min(n, lo + width);
        int hi = Math.min(n, lo + 2 * width);
        int i = lo;
        int j = mid;
        int o = lo;
        while (i < mid && j < hi) {
          // ">=": on equal values the left run (earlier position) goes first, which keeps the sort stable.
          dst[o++] = vals[src[i]] >= vals[src[j]] ? src[i++] : src[j++];
        }
        while (i < mid) {
          dst[o++] = src[i++];
        }
        while (j < hi) {
          dst[o++] = src[j++];
        }
      }
      int[] t = src;
      src = dst;
      dst = t;
    }
    if (src != picked) {
      // The result ended in the scratch array: swap the two roles instead of copying back.
      mergeScratch = picked;
      picked = src;
    }
  }

  /** Canonical CSR order (ascending column), as scipy's sum_duplicates leaves the row; rejects duplicates. */
  private void sortByColumn(String cellId, int m) {
    for (int e = 0; e < m; e++) {
      sortKeys[e] = ((long) cols[e] << 32) | e;
    }
    Arrays.sort(sortKeys, 0, m);
    double[] sortedVals = selectScratch;
    for (int e = 0; e < m; e++) {
      int c = (int) (sortKeys[e] >>> 32);
      if (e > 0 && c == cols[e - 1]) {
        throw new IllegalArgumentException(String.format(
            "atlas %s: cell %s stores gene %s (column %d) more than once; expected at most one entry per gene "
                + "(cell2sentence would sum them, which changes the tie-break draws of every later cell; "
                + "rewrite the matrix with summed duplicates, e.g. scipy's X.sum_duplicates())",
            atlas, cellId, geneSymbols.get(c), c));
      }
      cols[e] = c;
      sortedVals[e] = vals[(int) sortKeys[e]];
    }
    System.arraycopy(sortedVals, 0, vals, 0, m);
  }

  private void ensureCapacity(int n) {
    if (cols.length < n) {
      int size = Math.max(n, cols.length * 2);
      cols = new int[size];
      vals = new double[size];
      order = new int[size];
      selectScratch = new double[size];
      sortKeys = new long[size];
      picked = new int[size];
      mergeScratch = new int[size];
    }
  }
}
