package org.cellcircuits.ml;

import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;
import org.cellcircuits.harvest.HalfFloats;

/** One activation cell of a row (a Vector, or the harvest's little-endian fp16 bytes) as floats. */
final class ActivationValues {
  private ActivationValues() {
  }

  /** Writes row r's column {@code at} (width {@code width}) into out[offset, offset + width). */
  static void read(Row r, int at, String column, int width, float[] out, int offset) {
    Object v = r.get(at);
    if (v == null) {
      throw new IllegalArgumentException(String.format("column '%s' holds a null activation", column));
    }
    if (v instanceof Vector vec) {
      if (vec.size() != width) {
        throw new IllegalArgumentException(String.format("column '%s' holds a vector of size %d; expected %d",
            column, vec.size(), width));
      }
      for (int j = 0; j < width; j++) {
        out[offset + j] = (float) vec.apply(j);
      }
    } else {
      byte[] b = (byte[]) v;
      if (b.length != 2 * width) {
        throw new IllegalArgumentException(String.format("column '%s' holds %d bytes; expected %d (fp16 of width "
            + "%d)", column, b.length, 2 * width, width));
      }
      for (int j = 0; j < width; j++) {
        out[offset + j] = HalfFloats.fromFp16((short) ((b[2 * j] & 0xff) | (b[2 * j + 1] << 8)));
      }
    }
  }

  /** The width of row r's column {@code at}. */
  static int width(Row r, int at) {
    Object v = r.get(at);
    return v instanceof Vector vec ? vec.size() : ((byte[]) v).length / 2;
  }
}
