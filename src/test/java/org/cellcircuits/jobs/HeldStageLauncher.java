package org.cellcircuits.jobs;

import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;
import org.cellcircuits.harvest.HarvestTaskHook;
import org.cellcircuits.sentences.SentencesTaskHook;
import org.cellcircuits.transcoder.TrainCrashHook;

/**
 * Child-JVM entry of {@link FaultToleranceTest}: the launcher's own main ({@link CellCircuits#main}), with one task of
 * the named stage held forever once it has written output (sentences: range 0's file; harvest: task 0's files; train:
 * layer 0's first published checkpoint). The driver then sits mid-stage, holding the lease with an uncommitted
 * attempt, until the test kills the JVM; the other tasks run on.
 *
 * <p>Usage: {@code HeldStageLauncher <sentences|harvest|train> <cellcircuits arguments...>}
 */
final class HeldStageLauncher {
  private HeldStageLauncher() {}

  public static void main(String[] args) {
    switch (args[0]) {
      case "sentences" -> SentencesTaskHook.afterRangeFile((tc, range) -> {
        if (range == 0) {
          holdUntilKilled();
        }
      });
      case "harvest" -> HarvestTaskHook.afterPartition(tc -> {
        if (tc.partitionId() == 0) {
          holdUntilKilled();
        }
      });
      case "train" -> TrainCrashHook.afterCheckpoint((tc, step) -> {
        if (tc.partitionId() == 0) {
          holdUntilKilled();
        }
      });
      default -> throw new IllegalArgumentException("no hold point for stage " + args[0]);
    }
    CellCircuits.main(Arrays.copyOfRange(args, 1, args.length));
  }

  private static void holdUntilKilled() {
    System.out.println("HeldStageLauncher: holding");
    while (true) {
      LockSupport.park();
    }
  }
}
