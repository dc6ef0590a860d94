package org.cellcircuits.ml;

import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.ml.linalg.SQLDataTypes;

/**
 * The column params {@link TranscoderEstimator} and {@link TranscoderModel} share, declared once here (MLlib's
 * {@code HasInputCol} pattern): each class holds its own instances, made by these factories, and exposes them through
 * the accessor methods MLlib's reflection finds.
 */
interface TranscoderParams extends Params {
  Param<String> inputCol();

  Param<String> targetCol();

  Param<String> featuresCol();

  Param<String> reconstructionCol();

  static Param<String> inputCol(Params owner) {
    return new Param<>(owner, "inputCol", "MLP input column (blocks.L.ln2.hook_normalized): a Vector of d_in, or "
        + "the harvest's binary little-endian fp16 of 2 d_in bytes; default 'mlp_in'");
  }

  static Param<String> targetCol(Params owner) {
    return new Param<>(owner, "targetCol", "training target column, read by fit only: the MLP output "
        + "(blocks.L.hook_mlp_out) for a transcoder, ignored for an SAE; same types as inputCol; default 'mlp_out'");
  }

  static Param<String> featuresCol(Params owner) {
    return new Param<>(owner, "featuresCol", "output: the active features and their activations, a sparse Vector "
        + "of d_sae; default 'features'");
  }

  static Param<String> reconstructionCol(Params owner) {
    return new Param<>(owner, "reconstructionCol", "output: the transcoder's MLP-output estimate in model units, a "
        + "dense Vector of d_out; default 'reconstruction'");
  }

  default void setColumnDefaults() {
    setDefault(inputCol(), "mlp_in");
    setDefault(targetCol(), "mlp_out");
    setDefault(featuresCol(), "features");
    setDefault(reconstructionCol(), "reconstruction");
  }

  default String getInputCol() {
    return $(inputCol());
  }

  default String getTargetCol() {
    return $(targetCol());
  }

  default String getFeaturesCol() {
    return $(featuresCol());
  }

  default String getReconstructionCol() {
    return $(reconstructionCol());
  }

  /** An activation column: a Vector or binary fp16. */
  static void requireActivations(StructType schema, String param, String column) {
    var type = MlParams.requireColumn(schema, param, column).dataType();
    if (!type.equals(SQLDataTypes.VectorType()) && !type.equals(DataTypes.BinaryType)) {
      throw new IllegalArgumentException(String.format("%s: column '%s' must be of type %s or binary (fp16) but "
          + "was actually %s", param, column, SQLDataTypes.VectorType().catalogString(), type.catalogString()));
    }
  }

  /** The model's output schema. */
  default StructType outputSchema(StructType schema) {
    requireActivations(schema, "inputCol", getInputCol());
    MlParams.requireAbsent(schema, "featuresCol", getFeaturesCol());
    MlParams.requireAbsent(schema, "reconstructionCol", getReconstructionCol());
    return schema.add(getFeaturesCol(), SQLDataTypes.VectorType(), false)
        .add(getReconstructionCol(), SQLDataTypes.VectorType(), false);
  }
}
