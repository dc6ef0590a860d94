package org.cellcircuits.sentences;

import java.util.Arrays;

/** A growable int array (no boxing) for building CSR indices. */
final class IntList {
  private int[] a = new int[256];
  private int n;

  void add(int v) {
    if (n == a.length) {
      a = Arrays.copyOf(a, a.length * 2);
    }
    a[n++] = v;
  }

  int size() {
    return n;
  }

  int get(int i) {
    return a[i];
  }

  int[] toArray() {
    return Arrays.copyOf(a, n);
  }
}
