package org.cellcircuits.ml;

import java.io.Serializable;
import java.util.Arrays;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Function1;
import scala.runtime.AbstractFunction1;

/** Schema checks shared by the stages of this package; failures name the column, the param and what was found. */
final class MlParams {
  private MlParams() {
  }

  /** A serializable test of a value. */
  @FunctionalInterface
  interface Check<T> extends Serializable {
    boolean test(T value);
  }

  /** A param validator (Scala function) from a Java test; serializable, as MLlib's own validators are. */
  static <T> Function1<T, Object> validator(Check<T> check) {
    return new Validator<>(check);
  }

  private static final class Validator<T> extends AbstractFunction1<T, Object> implements Serializable {
    private static final long serialVersionUID = 1L;
    private final Check<T> check;

    Validator(Check<T> check) {
      this.check = check;
    }

    @Override
    public Object apply(T value) {
      return value != null && check.test(value);
    }
  }

  /** The field {@code column} (named by {@code param}) of {@code schema}, which must exist. */
  static StructField requireColumn(StructType schema, String param, String column) {
    if (!Arrays.asList(schema.fieldNames()).contains(column)) {
      throw new IllegalArgumentException(String.format("%s: column '%s' does not exist; the input has %s", param,
          column, Arrays.toString(schema.fieldNames())));
    }
    return schema.apply(column);
  }

  /** {@code column} exists and holds ml.linalg Vectors. */
  static void requireVector(StructType schema, String param, String column) {
    DataType type = requireColumn(schema, param, column).dataType();
    if (!type.equals(SQLDataTypes.VectorType())) {
      throw new IllegalArgumentException(String.format("%s: column '%s' must be of type %s (an "
          + "org.apache.spark.ml.linalg.Vector) but was actually %s", param, column,
          SQLDataTypes.VectorType().catalogString(), type.catalogString()));
    }
  }

  /** {@code column} exists and holds integers (int or long). */
  static void requireIntegral(StructType schema, String param, String column) {
    DataType type = requireColumn(schema, param, column).dataType();
    if (!type.equals(DataTypes.LongType) && !type.equals(DataTypes.IntegerType)) {
      throw new IllegalArgumentException(String.format("%s: column '%s' must be of type bigint or int but was "
          + "actually %s", param, column, type.catalogString()));
    }
  }

  /** {@code column}, an output, must not exist yet. */
  static void requireAbsent(StructType schema, String param, String column) {
    if (Arrays.asList(schema.fieldNames()).contains(column)) {
      throw new IllegalArgumentException(String.format("%s: output column '%s' already exists in the input",
          param, column));
    }
  }
}
