package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The k strongest tokens of one feature, kept in a bounded heap whose root is the weakest example kept, so a token
 * weaker than all k is turned away after one comparison.
 *
 * <p>Ties are broken by {@link TopExample#STRONGEST_FIRST} (cell id, then position), a total order over a layer's
 * tokens: the examples kept after any split of the tokens into partitions, merged in any order, are identical.
 *
 * <p>The heap is a plain array rather than a {@link java.util.PriorityQueue} so that serialising it for a Spark
 * combiner does not have to serialise a comparator.
 */
public final class TopExamples implements Serializable {
  private static final long serialVersionUID = 1L;

  private final int capacity;
  /** Min-heap under STRONGEST_FIRST reversed: heap[0] is the weakest kept example. */
  private TopExample[] heap;
  private int size;

  /** @param capacity how many examples to keep (>= 1) */
  public TopExamples(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException(String.format("top examples capacity is %d; must be >= 1", capacity));
    }
    this.capacity = capacity;
    this.heap = new TopExample[Math.min(capacity, 16)];
  }

  public int capacity() {
    return capacity;
  }

  public int size() {
    return size;
  }

  /** Keeps {@code example} if it is among the {@code capacity} strongest seen so far. */
  public void offer(TopExample example) {
    if (size < capacity) {
      if (size == heap.length) {
        heap = Arrays.copyOf(heap, Math.min(capacity, 2 * heap.length));
      }
      heap[size] = example;
      siftUp(size++);
    } else if (weaker(heap[0], example)) {
      heap[0] = example;
      siftDown(0);
    }
  }

  /** Adds the examples another partition kept; the result is as if this one had seen that partition's tokens. */
  public TopExamples merge(TopExamples other) {
    if (other.capacity != capacity) {
      throw new IllegalArgumentException(String.format(
          "cannot merge top examples of capacity %d into capacity %d", other.capacity, capacity));
    }
    for (int i = 0; i < other.size; i++) {
      offer(other.heap[i]);
    }
    return this;
  }

  /** The kept examples, strongest first. */
  public List<TopExample> strongestFirst() {
    List<TopExample> out = new ArrayList<>(Arrays.asList(heap).subList(0, size));
    out.sort(TopExample.STRONGEST_FIRST);
    return out;
  }

  /** Whether {@code a} ranks below {@code b}. */
  private static boolean weaker(TopExample a, TopExample b) {
    return TopExample.STRONGEST_FIRST.compare(a, b) > 0;
  }

  private void siftUp(int i) {
    TopExample x = heap[i];
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (!weaker(x, heap[parent])) {
        break;
      }
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = x;
  }

  private void siftDown(int i) {
    TopExample x = heap[i];
    int half = size >>> 1;
    while (i < half) {
      int child = 2 * i + 1;
      int right = child + 1;
      if (right < size && weaker(heap[right], heap[child])) {
        child = right;
      }
      if (!weaker(heap[child], x)) {
        break;
      }
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = x;
  }
}
