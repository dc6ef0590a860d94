package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

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
    return walk(seed, ranges, entries, (p, state) -> { });
  }

  /**
   * Starts the walk on a daemon thread of its own and returns at once: each range's start state is published as
   * soon as the walk reaches it, so the ranges can be built while the walk goes on (it is sequential; building is
   * not). {@code onEnd} runs on that thread when the walk ends, however it ends (e.g. closing the reader).
   */
  public static Running start(long seed, RowRanges ranges, RowEntries entries, Runnable onEnd) {
    Running running = new Running(ranges.count());
    Thread thread = new Thread(() -> {
      try {
        Checkpoints c = walk(seed, ranges, entries, (p, state) -> running.starts.get(p).complete(state));
        running.done.complete(c);
      } catch (IOException | RuntimeException | Error e) {
        running.starts.forEach(f -> f.completeExceptionally(e));
        running.done.completeExceptionally(e);
      } finally {
        onEnd.run();
      }
    }, "cellcircuits-tie-break-prepass");
    thread.setDaemon(true);
    thread.start();
    return running;
  }

  /** A walk under way ({@link #start}). */
  public static final class Running {
    private final List<CompletableFuture<NumpyRandomState.State>> starts;
    private final CompletableFuture<Checkpoints> done = new CompletableFuture<>();

    private Running(int partitions) {
      List<CompletableFuture<NumpyRandomState.State>> s = new ArrayList<>(partitions);
      for (int p = 0; p < partitions; p++) {
        s.add(new CompletableFuture<>());
      }
      this.starts = List.copyOf(s);
    }

    /** Whether partition p's start state is known (or the walk failed before it). */
    public boolean startKnown(int partition) {
      return starts.get(partition).isDone();
    }

    /** Partition p's start state, waiting for the walk to reach it. */
    public NumpyRandomState.State startOf(int partition) throws IOException {
      return join(starts.get(partition));
    }

    /** Runs {@code action} with the checkpoints when the walk has ended well. */
    public void whenDone(java.util.function.Consumer<Checkpoints> action) {
      done.thenAccept(action);
    }

    /** Every checkpoint, waiting for the walk to end. */
    public Checkpoints checkpoints() throws IOException {
      return join(done);
    }

    private static <T> T join(CompletableFuture<T> f) throws IOException {
      try {
        return f.join();
      } catch (CompletionException e) {
        if (e.getCause() instanceof IOException io) {
          throw io;
        }
        if (e.getCause() instanceof RuntimeException r) {
          throw r;
        }
        throw e;
      }
    }
  }

  private interface Published {
    void start(int partition, NumpyRandomState.State state);
  }

  private static Checkpoints walk(long seed, RowRanges ranges, RowEntries entries, Published published)
      throws IOException {
    long t0 = System.nanoTime();
    NumpyRandomState rng = new NumpyRandomState(seed);
    List<NumpyRandomState.State> starts = new ArrayList<>(ranges.count());
    long kept = 0;
    long dropped = 0;
    long draws = 0;
    for (int p = 0; p < ranges.count(); p++) {
      NumpyRandomState.State state = rng.state();
      starts.add(state);
      published.start(p, state);
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
