package org.cellcircuits.sentences;

import io.jhdf.api.Attribute;
import io.jhdf.api.Dataset;
import io.jhdf.api.Node;
import io.jhdf.object.datatype.EnumDataType;

import java.lang.reflect.Array;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed access to 1-D HDF5 datasets and attributes as jhdf returns them: jhdf hands back a Java array whose type
 * follows the HDF5 type (float[], double[], byte[]..long[], long[] for uint32, BigInteger[] for uint64, String[] for
 * strings and enums). These helpers widen that to what the readers need.
 */
final class H5adArrays {
  private H5adArrays() {
  }

  /** Elements [start, start + n) of a 1-D dataset, read with jhdf's slice read (only those bytes are read). */
  static Object slice(Dataset ds, long start, int n) {
    if (n == 0) {
      return Array.newInstance(ds.getJavaType(), 0);
    }
    return ds.getData(new long[] {start}, new int[] {n});
  }

  static long length(Dataset ds) {
    long[] dims = ds.getDimensionsAsLong();
    return dims.length == 0 ? 1 : dims[0];
  }

  static double[] doubles(Object a) {
    int n = Array.getLength(a);
    double[] out = new double[n];
    if (a instanceof float[] f) {
      for (int i = 0; i < n; i++) {
        out[i] = f[i];
      }
    } else if (a instanceof double[] d) {
      System.arraycopy(d, 0, out, 0, n);
    } else if (a instanceof int[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i];
      }
    } else if (a instanceof long[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i];
      }
    } else if (a instanceof short[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i];
      }
    } else if (a instanceof byte[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i];
      }
    } else if (a instanceof BigInteger[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i].doubleValue();
      }
    } else {
      throw new IllegalArgumentException("not a numeric array: " + a.getClass().getSimpleName());
    }
    return out;
  }

  static long[] longs(Object a) {
    int n = Array.getLength(a);
    long[] out = new long[n];
    if (a instanceof long[] v) {
      System.arraycopy(v, 0, out, 0, n);
    } else if (a instanceof int[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i];
      }
    } else if (a instanceof short[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i];
      }
    } else if (a instanceof byte[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i];
      }
    } else if (a instanceof BigInteger[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i].bitLength() < 64 ? v[i].longValue() : Long.MAX_VALUE;
      }
    } else {
      throw new IllegalArgumentException("not an integer array: " + a.getClass().getSimpleName());
    }
    return out;
  }

  /** Integer array narrowed to int; values outside int's range become -1 (callers range-check and report). */
  static int[] ints(Object a) {
    if (a instanceof int[] v) {
      return v;
    }
    long[] l = longs(a);
    int[] out = new int[l.length];
    for (int i = 0; i < l.length; i++) {
      out[i] = l[i] >= 0 && l[i] <= Integer.MAX_VALUE ? (int) l[i] : -1;
    }
    return out;
  }

  static boolean isNumeric(Object a) {
    return a instanceof float[] || a instanceof double[] || a instanceof int[] || a instanceof long[]
        || a instanceof short[] || a instanceof byte[] || a instanceof BigInteger[];
  }

  /**
   * An obs/var value array as strings: strings as stored; integers in decimal; float32 with Float.toString and
   * float64 with Double.toString (NaN = missing = null); HDF5 enums (h5py stores numpy bools as the enum
   * FALSE/TRUE) as their lower-cased names.
   */
  static String[] strings(Object a, Node from) {
    int n = Array.getLength(a);
    String[] out = new String[n];
    if (a instanceof String[] s) {
      boolean isEnum = from instanceof Dataset d && d.getDataType() instanceof EnumDataType;
      for (int i = 0; i < n; i++) {
        out[i] = isEnum && s[i] != null ? bool(s[i]) : s[i];
      }
    } else if (a instanceof float[] f) {
      for (int i = 0; i < n; i++) {
        out[i] = Float.isNaN(f[i]) ? null : Float.toString(f[i]);
      }
    } else if (a instanceof double[] d) {
      for (int i = 0; i < n; i++) {
        out[i] = Double.isNaN(d[i]) ? null : Double.toString(d[i]);
      }
    } else if (a instanceof boolean[] b) {
      for (int i = 0; i < n; i++) {
        out[i] = Boolean.toString(b[i]);
      }
    } else if (a instanceof BigInteger[] v) {
      for (int i = 0; i < n; i++) {
        out[i] = v[i].toString();
      }
    } else {
      long[] l = longs(a);
      for (int i = 0; i < n; i++) {
        out[i] = Long.toString(l[i]);
      }
    }
    return out;
  }

  private static String bool(String enumName) {
    return switch (enumName) {
      case "TRUE" -> "true";
      case "FALSE" -> "false";
      default -> enumName;
    };
  }

  /** A string attribute (scalar or one-element array), or null if absent. */
  static String stringAttr(Node node, String name) {
    Attribute a = node.getAttributes().get(name);
    if (a == null) {
      return null;
    }
    Object v = a.getData();
    if (v instanceof String s) {
      return s;
    }
    if (v instanceof String[] s && s.length == 1) {
      return s[0];
    }
    return String.valueOf(v);
  }

  /** A list-of-strings attribute (e.g. column-order); anndata writes an empty float array for an empty list. */
  static List<String> stringListAttr(Node node, String name) {
    Attribute a = node.getAttributes().get(name);
    List<String> out = new ArrayList<>();
    if (a == null || a.isEmpty()) {
      return out;
    }
    Object v = a.getData();
    if (v instanceof String s) {
      out.add(s);
    } else if (v instanceof String[] s) {
      out.addAll(List.of(s));
    } else if (v.getClass().isArray() && Array.getLength(v) > 0) {
      for (String s : strings(v, node)) {
        out.add(s);
      }
    }
    return out;
  }

  /** An integer vector attribute such as shape. */
  static long[] longsAttr(Node node, String name) {
    Attribute a = node.getAttributes().get(name);
    if (a == null) {
      return null;
    }
    Object v = a.getData();
    if (v.getClass().isArray()) {
      return longs(v);
    }
    return new long[] {((Number) v).longValue()};
  }
}
