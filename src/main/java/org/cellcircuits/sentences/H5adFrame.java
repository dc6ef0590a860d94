package org.cellcircuits.sentences;

import io.jhdf.HdfFile;
import io.jhdf.api.Attribute;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.Node;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An AnnData dataframe ({@code obs}, {@code var}, {@code raw/var}) in an .h5ad, read column by column and row
 * range by row range.
 *
 * <p>Layouts understood (all that anndata >= 0.7 writes or reads back):
 * <ul>
 *   <li>a group whose {@code _index} attribute names the index dataset and whose {@code column-order} attribute
 *       lists the columns (anndata 0.7 {@code dataframe 0.1.0} and 0.8+ {@code dataframe 0.2.0});
 *   <li>categorical columns as a group ({@code encoding-type=categorical}: {@code codes}, {@code categories}), or,
 *       before anndata 0.8, as a codes dataset whose {@code categories} attribute is an HDF5 object reference to
 *       {@code __categories/<col>}; code -1 is a missing value (null);
 *   <li>string columns (variable-length, {@code string-array} or the older un-annotated datasets), numeric columns
 *       (rendered as text, see {@link H5adArrays#strings}), booleans, and {@code nullable-integer} /
 *       {@code nullable-boolean} / {@code nullable-string-array} groups (values + mask; masked = null).
 * </ul>
 * The pre-0.7 layout (one compound dataset) is refused with a message saying so.
 */
final class H5adFrame {
  private final HdfFile file;
  private final String source;
  private final String path;
  private final Group group;
  private final Dataset index;
  private final List<String> columns;
  private final long rows;
  private final Map<String, Column> opened = new HashMap<>();

  H5adFrame(HdfFile file, String source, String path) throws AtlasFormatException {
    this.file = file;
    this.source = source;
    this.path = path;
    Node node = H5adReader.child(file, path);
    if (node == null) {
      throw AtlasFormatException.of(source, path, "not found", "an AnnData dataframe group '" + path + "'");
    }
    if (!(node instanceof Group g)) {
      throw AtlasFormatException.of(source, path,
          "is a single (compound) dataset, the layout of anndata < 0.7",
          "a dataframe group; rewrite the file with anndata >= 0.7 (read_h5ad then write_h5ad)");
    }
    this.group = g;
    String indexName = H5adArrays.stringAttr(g, "_index");
    if (indexName == null) {
      throw AtlasFormatException.of(source, path, "has no _index attribute",
          "the _index attribute naming the index column, as anndata writes it");
    }
    Node idx = g.getChildren().get(indexName);
    if (!(idx instanceof Dataset d)) {
      throw AtlasFormatException.of(source, path + "/" + indexName, "not found",
          "the index dataset named by the _index attribute");
    }
    this.index = d;
    this.rows = H5adArrays.length(d);
    this.columns = List.copyOf(H5adArrays.stringListAttr(g, "column-order"));
  }

  long rows() {
    return rows;
  }

  List<String> columns() {
    return columns;
  }

  String[] index(long start, int n) {
    return H5adArrays.strings(H5adArrays.slice(index, start, n), index);
  }

  /** Values of one column for rows [start, start + n). */
  String[] column(String name, long start, int n) throws AtlasFormatException {
    Column c = opened.get(name);
    if (c == null) {
      c = open(name);
      opened.put(name, c);
    }
    return c.read(start, n);
  }

  /** Fails with the list of available columns unless {@code name} is one of them. */
  void requireColumn(String name, String role) throws AtlasFormatException {
    if (!columns.contains(name) && group.getChildren().get(name) == null) {
      throw AtlasFormatException.of(source, path + "/" + name,
          String.format("%s column '%s' does not exist", role, name),
          String.format("one of the %s columns %s", path, columns));
    }
  }

  private interface Column {
    String[] read(long start, int n) throws AtlasFormatException;
  }

  private Column open(String name) throws AtlasFormatException {
    Node node = group.getChildren().get(name);
    String field = path + "/" + name;
    if (node == null) {
      throw AtlasFormatException.of(source, field, "does not exist", String.format("one of %s", columns));
    }
    String encoding = H5adArrays.stringAttr(node, "encoding-type");
    if (node instanceof Group g) {
      if ("categorical".equals(encoding)) {
        return categorical(field, dataset(g, "codes", field), dataset(g, "categories", field));
      }
      if ("nullable-integer".equals(encoding) || "nullable-boolean".equals(encoding)
          || "nullable-string-array".equals(encoding)) {
        Dataset values = dataset(g, "values", field);
        Dataset mask = dataset(g, "mask", field);
        return (start, n) -> {
          String[] v = H5adArrays.strings(H5adArrays.slice(values, start, n), values);
          String[] m = H5adArrays.strings(H5adArrays.slice(mask, start, n), mask);
          for (int i = 0; i < n; i++) {
            if ("true".equals(m[i]) || "1".equals(m[i])) {
              v[i] = null;
            }
          }
          return v;
        };
      }
      throw AtlasFormatException.of(source, field, String.format("is a group with encoding-type '%s'", encoding),
          "a categorical, nullable or plain column");
    }
    Dataset ds = (Dataset) node;
    Attribute legacyCategories = ds.getAttributes().get("categories");
    if (legacyCategories != null) {
      Object ref = legacyCategories.getData();
      long address = ref instanceof long[] l ? l[0] : ((Number) ref).longValue();
      Node target = file.getNodeByAddress(address);
      if (!(target instanceof Dataset cats)) {
        throw AtlasFormatException.of(source, field + " categories",
            "the object reference does not point to a dataset", "a reference to __categories/" + name);
      }
      return categorical(field, ds, cats);
    }
    if (ds.getDimensions().length != 1) {
      throw AtlasFormatException.of(source, field, "has shape " + java.util.Arrays.toString(ds.getDimensions()),
          "a 1-D column");
    }
    return (start, n) -> H5adArrays.strings(H5adArrays.slice(ds, start, n), ds);
  }

  private Column categorical(String field, Dataset codes, Dataset categoriesDs) {
    String[] categories = categoriesDs.isEmpty() ? new String[0]
        : H5adArrays.strings(categoriesDs.getData(), categoriesDs);
    return (start, n) -> {
      long[] c = H5adArrays.longs(H5adArrays.slice(codes, start, n));
      String[] out = new String[n];
      for (int i = 0; i < n; i++) {
        if (c[i] == -1) {
          continue; // missing value
        }
        if (c[i] < 0 || c[i] >= categories.length) {
          throw AtlasFormatException.of(source, field + " codes",
              String.format("row %d has code %d", start + i, c[i]),
              String.format("-1 (missing) or a code in [0, %d)", categories.length));
        }
        out[i] = categories[(int) c[i]];
      }
      return out;
    };
  }

  private Dataset dataset(Group g, String child, String field) throws AtlasFormatException {
    Node n = g.getChildren().get(child);
    if (!(n instanceof Dataset d)) {
      throw AtlasFormatException.of(source, field + "/" + child, "not found",
          "a '" + child + "' dataset in the encoded column");
    }
    return d;
  }
}
