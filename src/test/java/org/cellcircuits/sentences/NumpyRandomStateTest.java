package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The MT19937 port against numpy 1.24's and sklearn 1.2's own output (rng_fixtures.json). */
class NumpyRandomStateTest {
  private static final JsonObject FIXTURE = C2sFixture.json("rng_fixtures.json");

  @Test
  void rawDrawsAfterIntegerSeedingMatchNumpy() {
    for (JsonElement e : FIXTURE.getAsJsonArray("raw")) {
      JsonObject o = e.getAsJsonObject();
      long seed = o.get("seed").getAsLong();
      long[] expected = C2sFixture.longs(o, "draws");
      NumpyRandomState rng = new NumpyRandomState(seed);
      for (int i = 0; i < expected.length; i++) {
        assertThat(rng.nextUnsigned32()).as("seed %d draw %d", seed, i).isEqualTo(expected[i]);
      }
    }
  }

  @Test
  void stateEqualsNumpysGetState() {
    JsonObject o = FIXTURE.getAsJsonObject("state_after_1000");
    NumpyRandomState rng = new NumpyRandomState(o.get("seed").getAsLong());
    for (int i = 0; i < 1000; i++) {
      rng.nextInt();
    }
    long[] key = C2sFixture.longs(o, "key");
    int[] ours = rng.state().key();
    for (int i = 0; i < key.length; i++) {
      assertThat(Integer.toUnsignedLong(ours[i])).as("key[%d]", i).isEqualTo(key[i]);
    }
    assertThat(rng.state().pos()).isEqualTo(o.get("pos").getAsInt());
  }

  @Test
  void legacyShufflesInSequenceMatchNumpy() throws Exception {
    JsonObject seq = FIXTURE.getAsJsonObject("shuffle_sequence");
    NumpyRandomState rng = new NumpyRandomState(seq.get("seed").getAsLong());
    for (JsonElement e : seq.getAsJsonArray("shuffles")) {
      JsonObject o = e.getAsJsonObject();
      int n = o.get("n").getAsInt();
      int[] a = arange(n);
      rng.shuffle(a);
      if (o.has("perm")) {
        assertThat(a).as("shuffle of arange(%d)", n).containsExactly(C2sFixture.ints(o, "perm"));
      }
      assertThat(sha256(a)).as("sha256 of shuffled arange(%d)", n).isEqualTo(o.get("sha256_int32").getAsString());
    }
    long[] after = C2sFixture.longs(seq, "raw_after");
    for (long v : after) {
      assertThat(rng.nextUnsigned32()).isEqualTo(v);
    }
  }

  @Test
  void sklearnShuffleOfRowsMatchesSklearn() {
    JsonObject sk = FIXTURE.getAsJsonObject("sklearn_shuffle");
    NumpyRandomState rng = new NumpyRandomState(sk.get("seed").getAsLong());
    for (JsonElement e : sk.getAsJsonArray("rows")) {
      JsonObject o = e.getAsJsonObject();
      int[] cols = C2sFixture.ints(o, "cols");
      double[] vals = C2sFixture.doubles(o, "vals");
      // sklearn.utils.shuffle(cols, vals) = resample(replace=False): shuffle np.arange(n), index both arrays.
      int[] perm = arange(cols.length);
      rng.shuffle(perm);
      int[] shuffledCols = new int[cols.length];
      double[] shuffledVals = new double[cols.length];
      for (int i = 0; i < perm.length; i++) {
        shuffledCols[i] = cols[perm[i]];
        shuffledVals[i] = vals[perm[i]];
      }
      assertThat(shuffledCols).containsExactly(C2sFixture.ints(o, "shuffled_cols"));
      assertThat(shuffledVals).containsExactly(C2sFixture.doubles(o, "shuffled_vals"));
    }
    for (long v : C2sFixture.longs(sk, "raw_after")) {
      assertThat(rng.nextUnsigned32()).isEqualTo(v);
    }
  }

  @Test
  void skipShuffleAdvancesExactlyAsShuffle() {
    SplittableRandom sizes = new SplittableRandom(11);
    NumpyRandomState shuffled = new NumpyRandomState(42);
    NumpyRandomState skipped = new NumpyRandomState(42);
    for (int call = 0; call < 400; call++) {
      int n = call < 40 ? call : sizes.nextInt(1, call % 7 == 0 ? 70_000 : 3_000);
      NumpyRandomState counting = NumpyRandomState.restore(shuffled.state());
      shuffled.shuffle(arange(n));
      long draws = skipped.skipShuffle(n);
      assertThat(skipped.state()).as("after shuffle of %d", n).isEqualTo(shuffled.state());
      // The reported draws are the 32-bit outputs consumed: replaying that many lands on the same state.
      for (long d = 0; d < draws; d++) {
        counting.nextInt();
      }
      assertThat(counting.state()).isEqualTo(shuffled.state());
    }
  }

  @Test
  void restoredStateContinuesTheSameStream() {
    NumpyRandomState a = new NumpyRandomState(7);
    a.skipShuffle(1234);
    NumpyRandomState b = NumpyRandomState.restore(a.state());
    for (int i = 0; i < 2000; i++) {
      assertThat(b.nextInt()).isEqualTo(a.nextInt());
    }
  }

  @Test
  void randomIntervalStaysInRangeAndZeroTakesNoDraw() {
    NumpyRandomState rng = new NumpyRandomState(3);
    NumpyRandomState.State before = rng.state();
    assertThat(rng.randomInterval(0)).isZero();
    assertThat(rng.state()).isEqualTo(before);
    for (int max : new int[] {1, 2, 3, 5, 1000, Integer.MAX_VALUE}) {
      for (int i = 0; i < 200; i++) {
        assertThat(rng.randomInterval(max)).isBetween(0, max);
      }
    }
  }

  @Test
  void badSeedsAndStatesAreRejected() {
    assertThatThrownBy(() -> new NumpyRandomState(-1)).hasMessageContaining("seed is invalid: -1");
    assertThatThrownBy(() -> new NumpyRandomState(1L << 32)).hasMessageContaining("2**32 - 1");
    assertThatThrownBy(() -> new NumpyRandomState.State(new int[3], 0)).hasMessageContaining("624 words");
    assertThatThrownBy(() -> new NumpyRandomState.State(new int[624], 625)).hasMessageContaining("pos is invalid");
  }

  private static int[] arange(int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = i;
    }
    return a;
  }

  private static String sha256(int[] a) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(4 * a.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int v : a) {
      b.putInt(v);
    }
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
  }
}
