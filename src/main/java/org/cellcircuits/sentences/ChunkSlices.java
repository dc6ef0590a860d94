package org.cellcircuits.sentences;

import io.jhdf.api.Dataset;
import io.jhdf.api.dataset.ChunkedDataset;
import io.jhdf.object.datatype.DataType;
import io.jhdf.object.datatype.FixedPoint;
import io.jhdf.object.datatype.FloatingPoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Element ranges of a 1-D chunked HDF5 dataset stored without filters (how anndata writes a CSR matrix's
 * float32 {@code data} and int32 {@code indices}), copied straight out of each chunk's bytes into the caller's array.
 *
 * <p>Why not jhdf's slice read: it copies every overlapping chunk whole into a new array, then the slice into
 * another, then decodes that into a third, and the reader widened floats into a fourth: about 33 bytes allocated
 * and four copies per stored entry, 14 us of CPU per cell of ~2,000 entries (and most of the GC of the sentences
 * stage). Here the chunk's own buffer (memory-mapped by jhdf on a local file) is decoded once into the result.
 *
 * <p>{@link #of} returns null for any other dataset (contiguous, filtered, other element types), and the caller
 * uses jhdf's slice read.
 */
final class ChunkSlices {
  private enum Kind { INT32, FLOAT32 }

  private final ChunkedDataset dataset;
  private final Kind kind;
  private final ByteOrder order;
  private final int chunk;
  private final long length;
  private float[] floats = new float[0];

  private ChunkSlices(ChunkedDataset dataset, Kind kind, ByteOrder order, int chunk, long length) {
    this.dataset = dataset;
    this.kind = kind;
    this.order = order;
    this.chunk = chunk;
    this.length = length;
  }

  /** Direct access to {@code ds}, or null when it is not a 1-D unfiltered chunked int32 or float32 dataset. */
  static ChunkSlices of(Dataset ds) {
    if (!(ds instanceof ChunkedDataset cd) || ds.getDimensionsAsLong().length != 1
        || cd.getChunkDimensions().length != 1 || !ds.getFilters().isEmpty()) {
      return null;
    }
    long length = ds.getDimensionsAsLong()[0];
    if (length > Integer.MAX_VALUE) {
      return null; // jhdf names chunks by int offsets
    }
    DataType type = ds.getDataType();
    if (type instanceof FloatingPoint f && f.getSize() == 4) {
      return new ChunkSlices(cd, Kind.FLOAT32, f.getByteOrder(), cd.getChunkDimensions()[0], length);
    }
    if (type instanceof FixedPoint x && x.getSize() == 4 && x.isSigned()) {
      return new ChunkSlices(cd, Kind.INT32, x.getByteOrder(), cd.getChunkDimensions()[0], length);
    }
    return null;
  }

  /** Whether {@link #ints} reads this dataset (int32); otherwise {@link #doubles} does. */
  boolean holdsInts() {
    return kind == Kind.INT32;
  }

  /** Elements [start, start + n) of an int32 dataset. */
  int[] ints(long start, int n) {
    checkRange(start, n);
    int[] out = new int[n];
    forEachChunk(start, n, (buf, from, at, len) -> buf.asIntBuffer().get(from, out, at, len));
    return out;
  }

  /** Elements [start, start + n) of a float32 dataset, widened to double. */
  double[] doubles(long start, int n) {
    checkRange(start, n);
    double[] out = new double[n];
    forEachChunk(start, n, (buf, from, at, len) -> {
      if (floats.length < len) {
        floats = new float[Math.max(len, chunk)];
      }
      float[] f = floats;
      buf.asFloatBuffer().get(from, f, 0, len);
      for (int i = 0; i < len; i++) {
        out[at + i] = f[i];
      }
    });
    return out;
  }

  private interface Copy {
    void copy(ByteBuffer chunkBuffer, int fromInChunk, int at, int len);
  }

  private void forEachChunk(long start, int n, Copy copy) {
    long end = start + n;
    int at = 0;
    for (long c = start / chunk * chunk; c < end; c += chunk) {
      ByteBuffer buf = dataset.getRawChunkBuffer(new int[] {(int) c}).order(order);
      int from = (int) (Math.max(start, c) - c);
      int len = (int) (Math.min(end, c + chunk) - c) - from;
      copy.copy(buf, from, at, len);
      at += len;
    }
  }

  private void checkRange(long start, int n) {
    if (start < 0 || n < 0 || start + n > length) {
      throw new IllegalArgumentException(String.format("dataset %s: elements [%d, %d) are out of its %d",
          dataset.getPath(), start, start + n, length));
    }
  }
}
