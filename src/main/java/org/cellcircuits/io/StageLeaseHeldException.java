package org.cellcircuits.io;

/**
 * Another run holds the stage's lease ({@link StageLease}): it is writing the stage under the same run root now, or
 * died less than the lease timeout ago. Refusing keeps the two from deleting each other's attempts.
 */
public final class StageLeaseHeldException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  private final transient StageLease.Holder holder;

  StageLeaseHeldException(String message, StageLease.Holder holder) {
    super(message);
    this.holder = holder;
  }

  /** Who holds the lease, as its lease file says (null when the file could not be parsed). */
  public StageLease.Holder holder() {
    return holder;
  }
}
