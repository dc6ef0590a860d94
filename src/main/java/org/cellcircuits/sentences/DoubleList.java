package org.cellcircuits.sentences;

import java.util.Arrays;

/** A growable double array (no boxing) for building CSR values. */
final class DoubleList {
  private double[] a = new double[256];
  private int n;

  void add(double v) {
    if (n == a.length) {
      a = Arrays.copyOf(a, a.length * 2);
    }
    a[n++] = v;
  }

  int size() {
    return n;
  }

  double get(int i) {
    return a[i];
  }

  double[] toArray() {
    return Arrays.copyOf(a, n);
  }
}
