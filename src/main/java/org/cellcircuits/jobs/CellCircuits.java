package org.cellcircuits.jobs;

/** The command line: one subcommand per stage. */
public final class CellCircuits {
  public static void main(String[] args) {
    throw new UnsupportedOperationException("not built yet");
  }
}
