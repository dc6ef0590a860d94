package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The sequential part of the c2s tie-break, kept cheap so that everything else runs in parallel: walk the cells
 * in atlas order through one generator seeded as cell2sentence seeds numpy, advancing it by each kept cell's
 * shuffle ({@link NumpyRandomState#skipShuffle}) without building anything, and record its state at the first
 * row of every partition. A task that restores that state and builds its rows takes exactly the draws the
 * sequential loop would have, so the result is the sequential result.
 */
public final class TieBreakPrepass {
  private TieBreakPrepass() {
  }

  /** Per-row stored-entry counts of one partition: -1 for a dropped cell (it takes no draws). */
  @FunctionalInterface
  public interface RowEntries {
    int[] of(int partition) throws IOException;
  }

  /**
   * @param startStates generator state at the first row of each partition
   * @param endState    state after the last row (what the last partition must end at)
   * @param keptCells   cells with a sentence
   * @param droppedCells cells the subset dropped
   * @param draws       32-bit draws taken
   * @param seconds     time the walk took
   */
  public record Checkpoints(List<NumpyRandomState.State> startStates, NumpyRandomState.State endState,
                            long keptCells, long droppedCells, long draws, double seconds) {
    public Checkpoints {
      startStates = List.copyOf(startStates);
    }

    /** The state partition p must reach at its last row: the next partition's start. */
    public NumpyRandomState.State endOf(int partition) {
      return partition + 1 < startStates.size() ? startStates.get(partition + 1) : endState;
    }
  }

  public static Checkpoints run(long seed, RowRanges ranges, RowEntries entries) throws IOException {
    long t0 = System.nanoTime();
    NumpyRandomState rng = new NumpyRandomState(seed);
    List<NumpyRandomState.State> starts = new ArrayList<>(ranges.count());
    long kept = 0;
    long dropped = 0;
    long draws = 0;
    for (int p = 0; p < ranges.count(); p++) {
      starts.add(rng.state());
      int[] counts = entries.of(p);
      long rows = ranges.end(p) - ranges.start(p);
      if (counts.length != rows) {
        throw new IllegalStateException(String.format("partition %d covers %d rows but %d row counts came back",
            p, rows, counts.length));
      }
      for (int n : counts) {
        if (n < 0) {
          dropped++;
        } else {
          kept++;
          draws += rng.skipShuffle(n);
        }
      }
    }
    return new Checkpoints(starts, rng.state(), kept, dropped, draws, (System.nanoTime() - t0) / 1e9);
  }
}
