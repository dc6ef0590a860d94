package org.cellcircuits.sentences;

import java.io.Serializable;
import java.util.Arrays;

/**
 * numpy's legacy {@code RandomState} (MT19937) as far as cell2sentence's tie-break uses it: integer seeding,
 * 32-bit draws, {@code random_interval} and the legacy {@code shuffle} of a 1-d array.
 *
 * <p>cell2sentence calls {@code np.random.seed(42)} once and then {@code sklearn.utils.shuffle(cols, vals)} for
 * every cell in file order; sklearn shuffles {@code np.arange(n)} with the global {@code RandomState} and indexes
 * both arrays with it. So cell i's permutation depends on how many draws every earlier cell took, which is why the
 * state can be saved ({@link #state()}) at a partition boundary, shipped to a Spark task and restored there, and
 * why {@link #skipShuffle(int)} exists: a cell's draws follow from its stored-entry count alone.
 *
 * <p>Matches numpy 1.17+ ({@code _legacy_seeding} → {@code mt19937_seed}, {@code mt19937_next32},
 * {@code random_interval}, {@code RandomState._shuffle_raw}); checked against numpy's own output in
 * {@code NumpyRandomStateTest}. Not thread-safe: one instance per task.
 */
public final class NumpyRandomState {
  /** Words of MT19937 state. */
  public static final int STATE_WORDS = 624;
  private static final int M = 397;
  private static final int MATRIX_A = 0x9908b0df;
  private static final int UPPER_MASK = 0x80000000;
  private static final int LOWER_MASK = 0x7fffffff;
  /** Largest seed numpy accepts for integer seeding (2**32 - 1). */
  public static final long MAX_SEED = 0xffffffffL;

  private int[] key = new int[STATE_WORDS];
  /** Where {@link #regenerate} writes the next state before the two arrays swap roles. */
  private int[] nextKey = new int[STATE_WORDS];
  /** Scratch of {@link #regenerate}: each run of the recurrence reads and writes its own zero-based arrays. */
  private final int[] upper = new int[STATE_WORDS];
  private final int[] lower = new int[STATE_WORDS];
  private final int[] far = new int[STATE_WORDS];
  private final int[] twisted = new int[STATE_WORDS];
  /** key[i] tempered, valid for i >= pos: drawing is then one load (tempering a whole block at once is cheaper). */
  private final int[] tempered = new int[STATE_WORDS];
  private int pos;
  /** Scratch of {@link #shuffle}: the swap partner of each index. */
  private int[] targets = new int[0];

  /** {@code np.random.seed(seed)}: seed in [0, 2**32 - 1]. */
  public NumpyRandomState(long seed) {
    seed(seed);
  }

  private NumpyRandomState(State state) {
    System.arraycopy(state.key, 0, key, 0, STATE_WORDS);
    pos = state.pos;
    temperAll();
  }

  /** A generator that continues exactly where the one that saved {@code state} was. */
  public static NumpyRandomState restore(State state) {
    return new NumpyRandomState(state);
  }

  /** {@code RandomState.seed(seed)} for an integer seed: Knuth's initialisation, as MT19937's reference code. */
  public void seed(long seed) {
    if (seed < 0 || seed > MAX_SEED) {
      throw new IllegalArgumentException(String.format("seed is invalid: %d; numpy accepts 0 to 2**32 - 1", seed));
    }
    int s = (int) seed;
    for (int i = 0; i < STATE_WORDS; i++) {
      key[i] = s;
      s = 1812433253 * (s ^ (s >>> 30)) + i + 1;
    }
    pos = STATE_WORDS;
  }

  /** A copy of the state (624 words and the position in them), for shipping to a task. */
  public State state() {
    return new State(key.clone(), pos);
  }

  /** Next 32-bit output as an unsigned value in [0, 2**32). */
  public long nextUnsigned32() {
    return nextInt() & 0xffffffffL;
  }

  /** Next 32-bit output, its bits in an int (numpy's {@code next_uint32}). */
  public int nextInt() {
    if (pos == STATE_WORDS) {
      regenerate();
    }
    return tempered[pos++];
  }

  /**
   * numpy's {@code random_interval(max)}: a uniform value in [0, max] by masked rejection on 32-bit draws (the
   * branch every shuffle of an array shorter than 2**32 takes).
   */
  public int randomInterval(int max) {
    if (max < 0) {
      throw new IllegalArgumentException(String.format("max is invalid: %d; need >= 0", max));
    }
    if (max == 0) {
      return 0;
    }
    int mask = smallestMaskCovering(max);
    int value;
    do {
      value = nextInt() & mask;
    } while (value > max);
    return value;
  }

  /** Legacy {@code RandomState.shuffle} of a 1-d array, in place. */
  public void shuffle(int[] a) {
    shuffle(a, a.length);
  }

  /**
   * Legacy shuffle of {@code a[0, length)}: Fisher–Yates from the end, {@code j = random_interval(i)} for
   * i = length-1 down to 1 (so arrays of length 0 and 1 take no draws).
   */
  public void shuffle(int[] a, int length) {
    if (length < 0 || length > a.length) {
      throw new IllegalArgumentException(String.format("length is invalid: %d for an array of %d", length,
          a.length));
    }
    // Two phases: first the accepted draw j for every i, branch-free (a rejected draw is overwritten by the next
    // one for the same i), then the swaps. Rejections are data-dependent, so as branches they are mispredicted;
    // this ran ~35% faster than drawing and swapping in one loop (SentenceBuilderBench).
    if (targets.length < length) {
      targets = new int[Math.max(length, 2 * targets.length)];
    }
    int[] js = targets;
    int[] t = tempered;
    int p = pos;
    int i = length - 1;
    while (i > 0) {
      if (p == STATE_WORDS) {
        regenerate();
        p = 0;
      }
      // numpy's mask is the same for every i in (mask >>> 1, mask]: computing it once per such band keeps the
      // count-leading-zeros off the chain from one draw to the next (draw -> compare with i -> next i).
      int mask = smallestMaskCovering(i);
      int bandFloor = mask >>> 1;
      while (i > bandFloor && p < STATE_WORDS) {
        int value = t[p++] & mask;
        js[i] = value;
        i -= acceptedBit(value, i);
      }
    }
    pos = p;
    for (i = length - 1; i > 0; i--) {
      int j = js[i];
      int x = a[j];
      a[j] = a[i];
      a[i] = x;
    }
  }

  /**
   * Advances the generator exactly as {@code shuffle} of an array of {@code n} elements would (and so as
   * {@code sklearn.utils.shuffle} of a row with {@code n} stored entries), without an array: the draws a
   * shuffle takes depend only on n and on the rejected values. Returns the number of 32-bit draws taken.
   */
  public long skipShuffle(int n) {
    if (n < 0) {
      throw new IllegalArgumentException(String.format("n is invalid: %d; need >= 0", n));
    }
    int[] t = tempered;
    int p = pos;
    long draws = 0;
    int i = n - 1;
    while (i > 0) {
      if (p == STATE_WORDS) {
        regenerate();
        p = 0;
      }
      int mask = smallestMaskCovering(i); // constant for i in (mask >>> 1, mask], as in shuffle
      int bandFloor = mask >>> 1;
      int p0 = p;
      while (i > bandFloor && p < STATE_WORDS) {
        i -= acceptedBit(t[p++] & mask, i); // a rejected draw (value > i) leaves i where it is
      }
      draws += p - p0;
    }
    pos = p;
    return draws;
  }

  /**
   * 1 when numpy accepts the masked draw for bound i (value &lt;= i), else 0, without a branch: about a quarter of
   * the draws are rejected at random, and C2 compiled {@code value <= i ? 1 : 0} as a branch in some runs
   * (3.5 instead of 1.3 ns per draw, MtScratch-style timing). Both are in [0, 2^31 - 1), so value - i - 1 does
   * not overflow and is negative exactly when value &lt;= i.
   */
  private static int acceptedBit(int value, int i) {
    return (value - i - 1) >>> 31;
  }

  private static int smallestMaskCovering(int max) {
    return -1 >>> Integer.numberOfLeadingZeros(max);
  }

  private static int temper(int y) {
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y;
  }

  /**
   * The next 624 words of state, as MT19937's reference code computes them in place:
   * {@code key[i] = key[(i + 397) % 624] ^ twist(key[i], key[(i + 1) % 624])}, where the words at i + 397 past
   * the end are the ones already replaced. Written as runs over separate zero-based arrays (the words copied
   * out first): a loop that reads one array at two offsets, as the in-place form does, is not vectorised by
   * HotSpot's C2, and this way it is (~0.4 instead of ~1 ns per word).
   */
  private void regenerate() {
    int[] k = key;
    int[] n = nextKey;
    int firstRun = STATE_WORDS - M; // 227 words whose far word (i + 397) is still the old one
    twistRun(k, 0, k, M, firstRun, n);
    // The next two runs read far words already replaced: n[i - 227], first from the run above, then from the
    // run before them.
    twistRun(k, firstRun, n, 0, firstRun, n);
    int thirdRun = STATE_WORDS - 1 - 2 * firstRun; // 169
    twistRun(k, 2 * firstRun, n, firstRun, thirdRun, n);
    int y = (k[STATE_WORDS - 1] & UPPER_MASK) | (n[0] & LOWER_MASK);
    n[STATE_WORDS - 1] = n[M - 1] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    key = n;
    nextKey = k;
    pos = 0;
    temperAll();
  }

  /**
   * out[at + j] = farSource[farFrom + j] ^ twist(k[at + j], k[at + j + 1]) for j in [0, length), through the
   * zero-based scratch arrays.
   */
  private void twistRun(int[] k, int at, int[] farSource, int farFrom, int length, int[] out) {
    int[] hi = upper;
    int[] lo = lower;
    int[] f = far;
    int[] t = twisted;
    System.arraycopy(k, at, hi, 0, length);
    System.arraycopy(k, at + 1, lo, 0, length);
    System.arraycopy(farSource, farFrom, f, 0, length);
    for (int j = 0; j < length; j++) {
      int y = (hi[j] & UPPER_MASK) | (lo[j] & LOWER_MASK);
      t[j] = f[j] ^ (y >>> 1) ^ ((y << 31 >> 31) & MATRIX_A); // low bit of y set: xor MATRIX_A
    }
    System.arraycopy(t, 0, out, at, length);
  }

  private void temperAll() {
    int[] k = key;
    int[] t = tempered;
    for (int i = 0; i < STATE_WORDS; i++) {
      t[i] = temper(k[i]);
    }
  }

  /**
   * A saved generator state: numpy's {@code get_state()[1:3]} (the 624 key words as unsigned 32-bit values in
   * int bits, and the position).
   *
   * @param key 624 words
   * @param pos next word to temper, in [0, 624]; 624 means the next draw regenerates
   */
  public record State(int[] key, int pos) implements Serializable {
    private static final long serialVersionUID = 1L;

    public State {
      if (key == null || key.length != STATE_WORDS) {
        throw new IllegalArgumentException(String.format("key is invalid: need %d words, got %s", STATE_WORDS,
            key == null ? "null" : String.valueOf(key.length)));
      }
      if (pos < 0 || pos > STATE_WORDS) {
        throw new IllegalArgumentException(String.format("pos is invalid: %d; need 0 to %d", pos, STATE_WORDS));
      }
      key = key.clone();
    }

    @Override
    public int[] key() {
      return key.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof State s && s.pos == pos && Arrays.equals(s.key, key);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(key) + pos;
    }

    @Override
    public String toString() {
      return "State[pos=" + pos + ", key[0]=" + Integer.toUnsignedString(key[0]) + ", ...]";
    }
  }
}
