package org.cellcircuits.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/** Temporary attachment of long-lived arrays to a step's scratch manager, for the optimiser and the trainer's loss. */
public final class ScratchArrays {
  private ScratchArrays() {}

  /**
   * Temp-attaches each distinct array of {@code arrays} to {@code scratch} once: an array attached twice would lose its
   * way home when the scratch manager closes.
   */
  public static void attachTemporarily(NDManager scratch, Collection<NDArray> arrays) {
    Set<NDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    List<NDArray> distinct = new ArrayList<>();
    for (NDArray a : arrays) {
      if (seen.add(a)) {
        distinct.add(a);
      }
    }
    scratch.tempAttachAll(distinct.toArray(new NDArray[0]));
  }
}
